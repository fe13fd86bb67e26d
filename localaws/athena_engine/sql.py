"""Athena SQL in, DuckDB SQL out: statement parsing, ExecutionParameters and the Trino-semantics rewrite layer.

sqlglot parses the Trino dialect (Athena engine v3 runs DML on Trino) and generates DuckDB. Transpiling
alone keeps the syntax but not the meaning, so a rewrite layer sits between the two and either gives
DuckDB Trino's semantics or fails the query with ``NOT_SUPPORTED``, never a different answer:

- ``/`` truncates for integers (DuckDB's ``integer_division``); a division or ``avg`` over a DECIMAL fails
  with NOT_SUPPORTED (Trino keeps a decimal result with its own scale rules; DuckDB gives a double).
- ``regexp_extract`` without a match is NULL (DuckDB gives ``''``); ``regexp_replace`` takes ``$1``.
- ``date_format``/``date_parse`` (MySQL-style ``%Y-%m-%d %H:%i``) and ``format_datetime`` (Joda
  ``yyyy-MM-dd HH:mm``) are translated letter by letter; a letter without an exact DuckDB equivalent fails.
- ``date_trunc`` / ``date_add`` keep a DATE a DATE; ``date_diff`` counts whole units as Trino does.
- ``from_iso8601_timestamp`` gives a timestamp with time zone (UTC); another offset fails (DuckDB would
  lose the zone Trino keeps).
- ``approx_percentile`` is the exact nearest-rank percentile (``quantile_disc``), ``approx_distinct`` the
  exact distinct count: both within the approximate functions' error bounds.
- casts round as Trino does (double to integer half away from zero, double to decimal via its shortest
  decimal text) and print as Trino does (double to varchar in Java's form, timestamps with milliseconds).

Functions sqlglot does not know arrive as ``exp.Anonymous`` and pass only if they behave the same in DuckDB.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.dialects.trino import Trino
from sqlglot.errors import ErrorLevel, ParseError, TokenError, UnsupportedError
from sqlglot.parsers.trino import TrinoParser
from sqlglot.tokens import TokenType

from localaws.athena_engine.errors import QueryFailed, not_supported

MAX_QUERY_LENGTH = 262144

# Trino functions whose meaning differs in DuckDB (or that sqlglot maps differently): parsed as
# exp.Anonymous so that the rewrite layer below alone decides what they become.
RAW_FUNCTIONS = (
    "REGEXP_EXTRACT", "REGEXP_REPLACE", "DATE_FORMAT", "FORMAT_DATETIME", "DATE_PARSE", "PARSE_DATETIME",
    "DATE_TRUNC", "DATE_ADD", "DATE_DIFF", "FROM_ISO8601_TIMESTAMP", "FROM_ISO8601_DATE", "TO_ISO8601",
    "APPROX_PERCENTILE", "APPROX_DISTINCT", "ROUND", "ARRAY_DISTINCT", "ARRAY_POSITION", "MILLISECOND",
    "TYPEOF", "E", "FORMAT", "CONCAT", "WITH_TIMEZONE", "AT_TIMEZONE", "CURRENT_TIMEZONE", "NOW",
    "LOCALTIMESTAMP", "TRY", "STRPOS", "JSON_FORMAT", "JSON_PARSE", "SLICE",
)  # fmt: skip


def _raw(name: str) -> Callable[[list[Any]], exp.Expr]:
    return lambda args: exp.Anonymous(this=name.lower(), expressions=args)


class _Parser(TrinoParser):
    FUNCTIONS = {**TrinoParser.FUNCTIONS, **{name: _raw(name) for name in RAW_FUNCTIONS}}


class AthenaTrino(Trino):
    """Trino as Athena engine v3 speaks it, with the functions above left raw for the rewrite layer."""

    Parser = _Parser


DIALECT = AthenaTrino()

# --- functions that behave the same in DuckDB under the same name (exp.Anonymous passes through) ----------------
PASS_THROUGH = frozenset(
    {
        "starts_with", "codepoint", "chr", "hamming_distance", "levenshtein_distance", "cbrt", "degrees", "radians",
        "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "gcd", "lcm", "split_part",
        "translate", "last_day_of_month", "map_keys", "map_values", "json_array_length", "bool_and", "bool_or",
        "stddev", "variance", "stddev_samp", "stddev_pop", "var_samp", "var_pop", "corr", "covar_samp", "covar_pop",
        "regr_slope", "regr_intercept",
    }
)  # fmt: skip
# Names that are Trino functions (so an unknown one is FUNCTION_NOT_FOUND, a known one NOT_SUPPORTED).
TRINO_FUNCTIONS = frozenset(
    {
        "abs", "acos", "all_match", "any_match", "approx_distinct", "approx_most_frequent", "approx_percentile",
        "approx_set", "arbitrary", "array_agg", "array_distinct", "array_except", "array_histogram",
        "array_intersect", "array_join", "array_max", "array_min", "array_position", "array_remove",
        "array_sort", "array_union", "arrays_overlap", "asin", "at_timezone", "atan", "atan2", "avg", "bar",
        "beta_cdf", "bing_tile", "bit_count", "bitwise_and", "bitwise_and_agg", "bitwise_left_shift",
        "bitwise_not", "bitwise_or", "bitwise_or_agg", "bitwise_right_shift", "bitwise_right_shift_arithmetic",
        "bitwise_xor", "bool_and", "bool_or", "cardinality", "cast", "cbrt", "ceil", "ceiling", "char2hexint",
        "checksum", "chr", "classify", "codepoint", "color", "combinations", "concat", "concat_ws", "contains",
        "contains_sequence", "corr", "cos", "cosh", "cosine_similarity", "count", "count_if", "covar_pop",
        "covar_samp", "crc32", "cume_dist", "current_catalog", "current_date", "current_groups",
        "current_schema", "current_time", "current_timestamp", "current_timezone", "current_user", "date",
        "date_add", "date_diff", "date_format", "date_parse", "date_trunc", "day", "day_of_month",
        "day_of_week", "day_of_year", "degrees", "dense_rank", "dow", "doy", "e", "element_at",
        "empty_approx_set", "evaluate_classifier_predictions", "every", "exp", "features", "filter",
        "first_value", "flatten", "floor", "format", "format_datetime", "format_number", "from_base",
        "from_base32", "from_base64", "from_base64url", "from_big_endian_32", "from_big_endian_64", "from_hex",
        "from_ieee754_32", "from_ieee754_64", "from_iso8601_date", "from_iso8601_timestamp",
        "from_iso8601_timestamp_nanos", "from_unixtime", "from_unixtime_nanos", "from_utf8", "geometric_mean",
        "greatest", "hamming_distance", "hash_counts", "histogram", "hmac_md5", "hmac_sha1", "hmac_sha256",
        "hmac_sha512", "hour", "human_readable_seconds", "if", "index", "infinity", "intersection_cardinality",
        "inverse_beta_cdf", "inverse_normal_cdf", "is_finite", "is_infinite", "is_json_scalar", "is_nan",
        "jaccard_index", "json_array_contains", "json_array_get", "json_array_length", "json_exists",
        "json_extract", "json_extract_scalar", "json_format", "json_parse", "json_query", "json_size",
        "json_value", "kurtosis", "lag", "last_day_of_month", "last_value", "lead", "learn_classifier",
        "learn_libsvm_classifier", "learn_libsvm_regressor", "learn_regressor", "least", "length",
        "levenshtein_distance", "like_pattern", "listagg", "ln", "localtime", "localtimestamp", "log", "log10",
        "log2", "lower", "lpad", "ltrim", "luhn_check", "make_set_digest", "map", "map_agg", "map_concat",
        "map_entries", "map_filter", "map_from_entries", "map_keys", "map_union", "map_values", "map_zip_with",
        "max", "max_by", "md5", "merge", "merge_set_digest", "millisecond", "min", "min_by", "minute", "mod",
        "month", "multimap_agg", "multimap_from_entries", "murmur3", "nan", "ngrams", "none_match",
        "normal_cdf", "normalize", "now", "nth_value", "ntile", "nullif", "numeric_histogram", "objectid",
        "parse_data_size", "parse_datetime", "parse_duration", "parse_presto_data_size", "percent_rank", "pi",
        "position", "pow", "power", "qdigest_agg", "quarter", "radians", "rand", "random", "rank", "reduce",
        "reduce_agg", "regexp_count", "regexp_extract", "regexp_extract_all", "regexp_like", "regexp_position",
        "regexp_replace", "regexp_split", "regr_intercept", "regr_slope", "regress", "render", "repeat",
        "replace", "reverse", "rgb", "round", "row_number", "rpad", "rtrim", "second", "sequence", "sha1",
        "sha256", "sha512", "shuffle", "sign", "simplify_geometry", "sin", "sinh", "skewness", "slice",
        "soundex", "spooky_hash_v2_32", "spooky_hash_v2_64", "split", "split_part", "split_to_map",
        "split_to_multimap", "spooky", "sqrt", "starts_with", "stddev", "stddev_pop", "stddev_samp", "strpos",
        "strrpos", "substr", "substring", "sum", "tan", "tanh", "tdigest_agg", "timestamp_objectid",
        "timezone_hour", "timezone_minute", "to_base", "to_base32", "to_base64", "to_base64url",
        "to_big_endian_32", "to_big_endian_64", "to_char", "to_date", "to_hex", "to_ieee754_32",
        "to_ieee754_64", "to_iso8601", "to_milliseconds", "to_timestamp", "to_unixtime", "to_utf8", "transform",
        "transform_keys", "transform_values", "translate", "trim", "trim_array", "truncate", "try", "try_cast",
        "typeof", "upper", "url_decode", "url_encode", "url_extract_fragment", "url_extract_host",
        "url_extract_parameter", "url_extract_path", "url_extract_port", "url_extract_protocol",
        "url_extract_query", "uuid", "value_at_quantile", "values_at_quantiles", "var_pop", "var_samp",
        "variance", "week", "week_of_year", "width_bucket", "wilson_interval_lower", "wilson_interval_upper",
        "with_timezone", "word_stem", "xxhash64", "year", "year_of_week", "yow", "zip", "zip_with",
    }
)  # fmt: skip
TIME_UNITS = ("millisecond", "second", "minute", "hour", "day", "week", "month", "quarter", "year")
DATE_UNITS = ("day", "week", "month", "quarter", "year")
_INTERVAL_FUNCTIONS = {
    "millisecond": "to_milliseconds", "second": "to_seconds", "minute": "to_minutes", "hour": "to_hours",
    "day": "to_days", "week": "to_weeks", "month": "to_months", "year": "to_years",
}  # fmt: skip

# DuckDB macros the rewrite layer calls (created once per engine database).
MACROS = [
    """CREATE OR REPLACE MACRO trino_regexp_extract(s, p) AS CASE WHEN regexp_matches(s, p)
         THEN regexp_extract(s, p) END,
       (s, p, g) AS CASE WHEN regexp_matches(s, p) THEN regexp_extract(s, p, g) END""",
    """CREATE OR REPLACE MACRO trino_divide(a, b) AS CASE
         WHEN (typeof(a) LIKE 'DECIMAL%' OR typeof(b) LIKE 'DECIMAL%')
              AND typeof(a) NOT IN ('DOUBLE', 'FLOAT') AND typeof(b) NOT IN ('DOUBLE', 'FLOAT')
         THEN error('NOT_SUPPORTED: division of a DECIMAL (Trino keeps a DECIMAL with its own precision and '
                    || 'scale rules) is not supported by localaws; CAST an operand to DOUBLE')
         ELSE a / b END""",
    """CREATE OR REPLACE MACRO trino_half_up_divide(n, d) AS
         (n // d) + CASE WHEN 2 * abs(n % d) >= abs(d) THEN sign(n) * sign(d) ELSE 0 END""",
    """CREATE OR REPLACE MACRO trino_unscaled(x) AS CAST(replace(CAST(x AS VARCHAR), '.', '') AS HUGEINT)""",
    """CREATE OR REPLACE MACRO trino_avg_input(x) AS CASE WHEN typeof(x) LIKE 'DECIMAL%'
         THEN error('NOT_SUPPORTED: avg of a DECIMAL (Trino returns a DECIMAL of the same scale) is not '
                    || 'supported by localaws; CAST the argument to DOUBLE')
         ELSE x END""",
    """CREATE OR REPLACE MACRO trino_round(x, d) AS CASE WHEN typeof(x) LIKE 'DECIMAL%'
         THEN round(x, d) + (x - x) ELSE round(x, d) END""",
    """CREATE OR REPLACE MACRO trino_date_trunc(u, x DATE) AS CAST(date_trunc(u, x) AS DATE),
       (u, x TIMESTAMP) AS date_trunc(u, x),
       (u, x TIMESTAMP WITH TIME ZONE) AS date_trunc(u, x)""",
    """CREATE OR REPLACE MACRO trino_date_add(x DATE, i) AS CAST(x + i AS DATE),
       (x TIMESTAMP, i) AS x + i,
       (x TIMESTAMP WITH TIME ZONE, i) AS x + i""",
    """CREATE OR REPLACE MACRO trino_time_add(x DATE, i) AS
         error('INVALID_FUNCTION_ARGUMENT: a time unit cannot be added to a DATE'),
       (x TIMESTAMP, i) AS x + i,
       (x TIMESTAMP WITH TIME ZONE, i) AS x + i""",
    """CREATE OR REPLACE MACRO trino_from_iso8601_timestamp(s) AS CASE
         WHEN s IS NULL THEN NULL
         WHEN s LIKE '____-__-__T%Z' OR s LIKE '____-__-__T%+00:00' OR s LIKE '____-__-__T%+0000'
           OR s LIKE '____-__-__T%+00' THEN CAST(s AS TIMESTAMP WITH TIME ZONE)
         WHEN NOT regexp_full_match(s,
           '\\d{4}(-\\d{2}(-\\d{2}(T\\d{2}(:\\d{2}(:\\d{2}([.,]\\d{1,9})?)?)?(Z|[+-]\\d{2}(:?\\d{2})?)?)?)?)?')
           THEN error('INVALID_FUNCTION_ARGUMENT: Invalid format: "' || s || '"')
         WHEN regexp_matches(s, 'T.*[+-]\\d{2}(:?\\d{2})?$')
           THEN error('NOT_SUPPORTED: from_iso8601_timestamp of a time with a UTC offset other than Z ("'
                      || s || '") is not supported by localaws (Trino keeps the offset as the zone)')
         ELSE CAST(CASE WHEN length(s) = 4 THEN s || '-01-01' WHEN length(s) = 7 THEN s || '-01' ELSE s END
                   AS TIMESTAMP WITH TIME ZONE) END""",
    """CREATE OR REPLACE MACRO trino_to_iso8601(x DATE) AS strftime(x, '%Y-%m-%d'),
       (x TIMESTAMP) AS strftime(x, '%Y-%m-%dT%H:%M:%S.%g'),
       (x TIMESTAMP WITH TIME ZONE) AS strftime(x, '%Y-%m-%dT%H:%M:%S.%gZ')""",
    """CREATE OR REPLACE MACRO trino_array_distinct(a) AS
         list_filter(a, lambda x, i: list_position(a, x) = i OR (x IS NULL AND list_position(
             list_transform(a, lambda y: y IS NULL), true) = i))""",
    """CREATE OR REPLACE MACRO trino_json_extract_scalar(j, p) AS CASE
         WHEN json_type(json_extract(j, p)) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(j, p) END""",
    """CREATE OR REPLACE MACRO trino_array_position(a, x) AS coalesce(list_position(a, x), 0)""",
    """CREATE OR REPLACE MACRO trino_strpos(s, sub) AS CASE WHEN sub = '' THEN 1 ELSE strpos(s, sub) END""",
    """CREATE OR REPLACE MACRO trino_concat(a, b) AS a || b""",
    """CREATE OR REPLACE MACRO trino_slice(a, s, n) AS CASE
         WHEN s > 0 THEN list_slice(a, s, s + n - 1)
         WHEN s < 0 THEN list_slice(a, len(a) + s + 1, len(a) + s + n)
         ELSE error('INVALID_FUNCTION_ARGUMENT: SQL array indices start at 1') END""",
]


# --- ExecutionParameters ------------------------------------------------------------------------------------
@dataclass
class PositionMap:
    """Offsets in the text after parameter substitution, mapped back to line:column of the query as sent."""

    original: str
    shifts: list[tuple[int, int, int]] = field(default_factory=list)  # (new start, new end, original start)

    def original_offset(self, offset: int) -> int:
        delta = 0
        for new_start, new_end, original_start in self.shifts:
            if offset < new_start:
                break
            if offset < new_end:
                return original_start
            delta = new_end - (original_start + 1)
        return offset - delta

    def line_column(self, offset: int) -> tuple[int, int]:
        original = self.original_offset(offset)
        before = self.original[:original]
        line = before.count("\n") + 1
        column = original - (before.rfind("\n") + 1) + 1
        return line, column


def _tokens(text: str) -> list[Any]:
    try:
        return list(DIALECT.tokenize(text))
    except TokenError as err:
        raise QueryFailed("SYNTAX_ERROR", str(err).split(".")[0]) from err


def substitute_parameters(query: str, parameters: list[str] | None) -> tuple[str, PositionMap]:
    """The query with each ``?`` replaced by its ExecutionParameter (SQL text), and the position map back."""
    positions = PositionMap(query)
    placeholders = [t for t in _tokens(query) if t.token_type == TokenType.PLACEHOLDER and t.text == "?"]
    parameters = list(parameters or [])
    if len(placeholders) != len(parameters):
        raise QueryFailed(
            "INVALID_PARAMETER_USAGE",
            f"Incorrect number of parameters: expected {len(placeholders)} but found {len(parameters)}",
            1,
            1,
        )
    if not placeholders:
        return query, positions
    out: list[str] = []
    last = 0
    length = 0
    for token, value in zip(placeholders, parameters, strict=True):
        text = value if _is_single_literal(value) else f"({value})"
        out.append(query[last : token.start])
        length += token.start - last
        positions.shifts.append((length, length + len(text), token.start))
        out.append(text)
        length += len(text)
        last = token.end + 1
    out.append(query[last:])
    return "".join(out), positions


def _is_single_literal(value: str) -> bool:
    try:
        tokens = list(DIALECT.tokenize(value))
    except TokenError:
        return False
    kinds = [t.token_type for t in tokens]
    if kinds in ([TokenType.STRING], [TokenType.NUMBER], [TokenType.TRUE], [TokenType.FALSE], [TokenType.NULL]):
        return True
    return len(kinds) == 2 and kinds[0] in (TokenType.DASH, TokenType.PLUS) and kinds[1] == TokenType.NUMBER


# --- statement classification -------------------------------------------------------------------------------
_COMMENTS = re.compile(r"(--[^\n]*(\n|$)|/\*.*?\*/|\s)+", re.S)
_TRINO_STATEMENTS = (
    "'ALTER', 'ANALYZE', 'CALL', 'COMMENT', 'COMMIT', 'CREATE', 'DEALLOCATE', 'DELETE', 'DENY', 'DESC', "
    "'DESCRIBE', 'DROP', 'EXECUTE', 'EXPLAIN', 'GRANT', 'INSERT', 'MERGE', 'PREPARE', 'REFRESH', 'RESET', "
    "'REVOKE', 'ROLLBACK', 'SET', 'SHOW', 'START', 'TRUNCATE', 'UPDATE', 'USE', <query>"
)


@dataclass
class Statement:
    """One statement, classified the way GetQueryExecution reports it."""

    kind: str  # query | create_view | create_table | drop_table | drop_view | msck | add_partition | show_* | describe
    statement_type: str  # DML | DDL | UTILITY
    substatement_type: str
    text: str  # after parameter substitution
    positions: PositionMap
    ast: exp.Expr | None = None
    match: re.Match[str] | None = None


_CLASSES: list[tuple[re.Pattern[str], str, str, str]] = [
    (re.compile(r"(?is)^msck\s+repair\s+table\s+(?P<name>[\w.`\"]+)\s*;?\s*$"), "msck", "DDL", "MSCK_REPAIR_TABLE"),
    (re.compile(r"(?is)^show\s+(databases|schemas)(\s+(like\s+)?'(?P<pattern>[^']*)')?\s*;?\s*$"),
     "show_databases", "UTILITY", "SHOW_DATABASES"),
    (re.compile(r"(?is)^show\s+tables(\s+(in|from)\s+(?P<db>[\w`\"]+))?(\s+(like\s+)?'(?P<pattern>[^']*)')?\s*;?\s*$"),
     "show_tables", "UTILITY", "SHOW_TABLES"),
    (re.compile(r"(?is)^show\s+partitions\s+(?P<name>[\w.`\"]+)\s*;?\s*$"), "show_partitions", "UTILITY",
     "SHOW_PARTITIONS"),
    (re.compile(r"(?is)^show\s+columns\s+(in|from)\s+(?P<name>[\w.`\"]+)\s*;?\s*$"), "show_columns", "UTILITY",
     "SHOW_COLUMNS"),
    (re.compile(r"(?is)^(describe|desc)\s+(formatted\s+|extended\s+)?(?P<name>[\w.`\"]+)\s*;?\s*$"), "describe",
     "UTILITY", "DESCRIBE_TABLE"),
    (re.compile(r"(?is)^show\s+create\s+(table|view)\b"), "unsupported", "UTILITY", "SHOW_CREATE_TABLE"),
    (re.compile(r"(?is)^show\b"), "unsupported", "UTILITY", "SHOW"),
    (re.compile(r"(?is)^explain\b"), "unsupported", "UTILITY", "EXPLAIN"),
    (re.compile(r"(?is)^create\s+(or\s+replace\s+)?view\b"), "create_view", "DDL", "CREATE_VIEW"),
    (re.compile(r"(?is)^create\s+(external\s+)?table\b(?!.*\bas\s*(\(\s*)?(select|with|values)\b)"), "create_table",
     "DDL", "CREATE_TABLE"),
    (re.compile(r"(?is)^create\s+table\b"), "unsupported", "DML", "CREATE_TABLE_AS_SELECT"),
    (re.compile(r"(?is)^drop\s+view\b"), "drop_view", "DDL", "DROP_VIEW"),
    (re.compile(r"(?is)^drop\s+table\b"), "drop_table", "DDL", "DROP_TABLE"),
    (re.compile(r"(?is)^alter\s+table\s+[\w.`\"]+\s+add\b"), "add_partition", "DDL", "ALTER_TABLE_ADD_PARTITION"),
    (re.compile(r"(?is)^alter\b"), "unsupported", "DDL", "ALTER_TABLE"),
    (re.compile(r"(?is)^(create|drop)\s+(database|schema)\b"), "unsupported", "DDL", "CREATE_DATABASE"),
    (re.compile(r"(?is)^insert\b"), "unsupported", "DML", "INSERT"),
    (re.compile(r"(?is)^(delete|update|merge|unload|vacuum|optimize)\b"), "unsupported", "DML", "UPDATE"),
    (re.compile(r"(?is)^(with|select|values|table)\b|^\("), "query", "DML", "SELECT"),
]  # fmt: skip


def classify(query: str, parameters: list[str] | None) -> Statement:
    """Substitute the parameters, then name the statement; queries and views are parsed here too."""
    text, positions = substitute_parameters(query, parameters)
    body = _COMMENTS.sub(" ", text).strip()
    for pattern, kind, statement_type, substatement_type in _CLASSES:
        match = pattern.search(body)
        if match:
            statement = Statement(kind, statement_type, substatement_type, text, positions, match=match)
            if kind == "unsupported":
                verb = " ".join(body.split()[:2]).upper()
                raise not_supported(f"The statement {verb}", 1, 1)
            if kind in ("query", "create_view"):
                statement.ast = parse(text, positions)
            return statement
    first = body.split()[0] if body.split() else "<EOF>"
    raise QueryFailed("SYNTAX_ERROR", f"mismatched input '{first}'. Expecting: {_TRINO_STATEMENTS}", 1, 1)


def parse(text: str, positions: PositionMap) -> exp.Expr:
    """One Trino statement as a sqlglot tree; anything else is Athena's SYNTAX_ERROR."""
    tokens = _tokens(text)
    semicolons = [t for t in tokens if t.token_type == TokenType.SEMICOLON]
    if semicolons and semicolons[0] is not tokens[-1]:
        line, column = positions.line_column(semicolons[0].start)
        raise QueryFailed("SYNTAX_ERROR", "mismatched input ';'. Expecting: <EOF>", line, column)
    try:
        statements = sqlglot.parse(text, read=DIALECT)
    except ParseError as err:
        raise _syntax_error(err, text, positions) from err
    parsed = [s for s in statements if s is not None]
    if len(parsed) != 1:
        raise QueryFailed("SYNTAX_ERROR", "mismatched input '<EOF>'", 1, 1)
    statement = parsed[0]
    if isinstance(statement, exp.Command):
        raise not_supported(f"The statement {statement.name.upper()}", 1, 1)
    return statement


def _syntax_error(err: ParseError, text: str, positions: PositionMap) -> QueryFailed:
    detail = err.errors[0] if err.errors else {}
    highlight = str(detail.get("highlight") or "")
    line, column = int(detail.get("line") or 1), int(detail.get("col") or 1)
    description = str(detail.get("description") or "")
    lines = text.split("\n")
    offset = sum(len(x) + 1 for x in lines[: line - 1]) + column - len(highlight)
    if "SENTINEL" in description or not highlight:
        token, offset = "<EOF>", len(text.rstrip())
    else:
        token = highlight
    first = _COMMENTS.sub(" ", text).strip().split()
    if first and first[0].upper() not in ("SELECT", "WITH", "VALUES", "TABLE", "CREATE", "(") and offset > 0:
        token, offset = first[0], text.find(first[0])
        line, column = positions.line_column(offset)
        return QueryFailed("SYNTAX_ERROR", f"mismatched input '{token}'. Expecting: {_TRINO_STATEMENTS}", line, column)
    line, column = positions.line_column(max(0, offset))
    return QueryFailed("SYNTAX_ERROR", f"mismatched input '{token}'", line, column)


def position(node: exp.Expr, positions: PositionMap) -> tuple[int | None, int | None]:
    """line:column where a node starts in the query as sent (its first token with a position), or (None, None)."""
    starts = [int(n.meta["start"]) for n in node.walk() if isinstance(n, exp.Expr) and "start" in n.meta]
    return positions.line_column(min(starts)) if starts else (None, None)


# --- date/time formats -------------------------------------------------------------------------------------
_MYSQL_FORMAT = {
    "a": "%a", "b": "%b", "c": "%-m", "d": "%d", "e": "%-d", "f": "%g000", "H": "%H", "h": "%I", "I": "%I",
    "i": "%M", "j": "%j", "k": "%-H", "l": "%-I", "M": "%B", "m": "%m", "p": "%p", "r": "%I:%M:%S %p",
    "S": "%S", "s": "%S", "T": "%H:%M:%S", "v": "%V", "W": "%A", "x": "%G", "Y": "%Y", "y": "%y", "%": "%%",
}  # fmt: skip
_MYSQL_PARSE = {**_MYSQL_FORMAT, "c": "%m", "e": "%d", "k": "%H", "l": "%I", "f": "%f"}
_MYSQL_UNSUPPORTED = set("DUuVwX")


def mysql_format(pattern: str, parsing: bool = False) -> str:
    """A Trino date_format/date_parse pattern (MySQL letters) as a DuckDB strftime/strptime pattern."""
    table = _MYSQL_PARSE if parsing else _MYSQL_FORMAT
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char != "%" or i + 1 == len(pattern):
            out.append("%%" if char == "%" else char)
            i += 1
            continue
        letter = pattern[i + 1]
        if letter in _MYSQL_UNSUPPORTED:
            raise QueryFailed("INVALID_FUNCTION_ARGUMENT", f"%{letter} not supported in date format string")
        if parsing and letter in "aWbMp":
            raise not_supported(f"date_parse with %{letter}")
        out.append(table.get(letter, letter))
        i += 2
    return "".join(out)


_JODA = {
    "yyyy": "%Y", "yyy": "%Y", "y": "%Y", "yy": "%y", "YYYY": "%Y", "Y": "%Y", "YY": "%y", "xxxx": "%G",
    "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%-m", "dd": "%d", "d": "%-d", "HH": "%H", "H": "%-H",
    "hh": "%I", "h": "%-I", "mm": "%M", "m": "%-M", "ss": "%S", "s": "%-S", "SSS": "%g", "SSSSSS": "%f",
    "a": "%p", "EEEE": "%A", "EEE": "%a", "EE": "%a", "E": "%a", "DDD": "%j", "D": "%-j", "ww": "%V", "e": "%u",
    "ZZZ": "UTC", "ZZ": "+00:00", "Z": "+0000", "zzzz": "Coordinated Universal Time", "z": "UTC", "zz": "UTC",
    "zzz": "UTC",
}  # fmt: skip


def joda_format(pattern: str) -> str:
    """A Joda-Time pattern (format_datetime / parse_datetime) as a DuckDB strftime pattern (UTC only)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = pattern.find("'", i + 1)
            if end == i + 1:
                out.append("'")
                i += 2
                continue
            if end < 0:
                raise QueryFailed("INVALID_FUNCTION_ARGUMENT", f"Invalid format: '{pattern}' has an unclosed quote")
            out.append(pattern[i + 1 : end].replace("%", "%%"))
            i = end + 1
            continue
        if char.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == char:
                j += 1
            run = pattern[i:j]
            if run in _JODA:
                out.append(_JODA[run])
            elif char == "M" and len(run) > 4:
                out.append("%B")
            elif char == "E" and len(run) > 4:
                out.append("%A")
            else:
                raise not_supported(f"The Joda pattern letters '{run}' in format_datetime")
            i = j
            continue
        out.append("%%" if char == "%" else char)
        i += 1
    return "".join(out)


# --- the rewrite layer ---------------------------------------------------------------------------------------
def _literal_string(node: exp.Expr | None) -> str | None:
    if isinstance(node, exp.Literal) and node.is_string:
        return str(node.this)
    return None


def _fn(name: str, *args: exp.Expr) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _duck(sql: str) -> exp.Expr:
    return sqlglot.parse_one(sql, read="duckdb")


def _type_name(node: exp.DataType) -> str:
    return node.this.value if hasattr(node.this, "value") else str(node.this)


class Rewriter:
    """Turns a Trino tree into one whose DuckDB text has Trino's meaning (or raises NOT_SUPPORTED)."""

    def __init__(self, positions: PositionMap) -> None:
        self.positions = positions

    def where(self, node: exp.Expr) -> tuple[int | None, int | None]:
        return position(node, self.positions)

    def fail(self, what: str, node: exp.Expr) -> QueryFailed:
        return not_supported(what, *self.where(node))

    def rewrite(self, tree: exp.Expr) -> exp.Expr:
        """A rewritten copy: children first, so a node's handler sees its operands already in DuckDB terms."""
        tree = tree.copy()
        tree = self._each(tree, self._node)
        return self._each(tree, self._data_type_node)  # types last: CAST handlers read Trino's target type

    @staticmethod
    def _each(tree: exp.Expr, handler: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
        for node in reversed(list(tree.walk(bfs=False))):
            new = handler(node)
            if new is not node:
                if node is tree:
                    tree = new
                else:
                    node.replace(new)
        return tree

    def _data_type_node(self, node: exp.Expr) -> exp.Expr:
        return self._data_type(node) if isinstance(node, exp.DataType) else node

    def to_duckdb(self, tree: exp.Expr) -> str:
        return duckdb_sql(self.rewrite(tree))

    # One node at a time, top-down; a replacement's children are visited afterwards.
    def _node(self, node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous):
            return self._function(node)
        if isinstance(node, exp.Div):
            return _fn("trino_divide", node.this, node.expression)
        if isinstance(node, exp.Avg):
            if isinstance(node.this, exp.Distinct):
                return exp.Avg(
                    this=exp.Distinct(expressions=[_fn("trino_avg_input", e) for e in node.this.expressions])
                )
            return exp.Avg(this=_fn("trino_avg_input", node.this))
        if isinstance(node, exp.Cast | exp.TryCast):
            return self._cast(node)
        if isinstance(node, exp.AtTimeZone):
            zone = _literal_string(node.args.get("zone"))
            if zone is None or zone.upper() not in ("UTC", "Z", "+00:00", "ETC/UTC", "GMT"):
                raise self.fail("AT TIME ZONE with a zone other than UTC", node)
            return exp.Cast(this=node.this, to=exp.DataType.build("TIMESTAMPTZ"))
        if isinstance(node, exp.Unnest):
            return self._unnest(node)
        if isinstance(node, exp.Reduce) and node.args.get("finish") is not None:
            finish = node.args["finish"]
            if not (isinstance(finish, exp.Lambda) and finish.this.sql() == finish.expressions[0].sql()):
                raise self.fail("reduce with an output function other than the identity", node)
            node.set("finish", None)
        if isinstance(node, exp.ApproxQuantile | exp.ApproxDistinct):  # parsed by sqlglot when not raw
            raise self.fail(type(node).__name__, node)
        if isinstance(node, exp.ArrayIntersect | exp.ArrayExcept | exp.ArrayOverlaps | exp.Skewness | exp.Kurtosis):
            # DuckDB's element order / estimator differ from Trino's
            raise self.fail(f"Function {node.sql_name().lower()}", node)
        if isinstance(node, exp.Repeat):
            # Trino's repeat(element, n) is an array of n elements (DuckDB's repeat(string, n) concatenates)
            return _fn("repeat", exp.Array(expressions=[node.this]), node.args["times"])
        if isinstance(node, exp.ArrayRemove):
            element = exp.to_identifier("__e")
            keep = exp.Lambda(this=exp.NullSafeNEQ(this=exp.column("__e"), expression=node.expression),
                              expressions=[element])  # fmt: skip
            return _fn("list_filter", node.this, keep)
        if isinstance(node, exp.JSONExtractScalar):
            return _fn("trino_json_extract_scalar", node.this, node.expression)
        if isinstance(node, exp.Placeholder):
            raise QueryFailed("INVALID_PARAMETER_USAGE", "Query has a parameter (?) without a value", 1, 1)
        return node

    # -- functions ---------------------------------------------------------------------------------------------
    def _function(self, node: exp.Anonymous) -> exp.Expr:
        name = str(node.this).lower()
        args = list(node.expressions)
        handler = getattr(self, f"_fn_{name}", None)
        if handler is not None:
            result: exp.Expr = handler(node, args)
            return result
        if name.startswith("trino_") or name in PASS_THROUGH:
            return node
        line, column = self.where(node)
        if name in TRINO_FUNCTIONS:
            raise not_supported(f"Function {name}", line, column)
        raise QueryFailed("FUNCTION_NOT_FOUND", f"Function '{name}' not registered", line, column)

    def _arity(self, node: exp.Anonymous, args: list[exp.Expr], *allowed: int) -> None:
        if len(args) not in allowed:
            name = str(node.this).lower()
            raise QueryFailed(
                "FUNCTION_NOT_FOUND",
                f"Unexpected parameters for function {name}: {len(args)} arguments",
                *self.where(node),
            )

    def _format_argument(self, node: exp.Anonymous, args: list[exp.Expr], index: int) -> str:
        text = _literal_string(args[index]) if len(args) > index else None
        if text is None:
            raise self.fail(f"{node.this} with a format that is not a string literal", node)
        return text

    def _unit(self, node: exp.Anonymous, unit_node: exp.Expr, allowed: tuple[str, ...]) -> str:
        unit = _literal_string(unit_node)
        if unit is None:
            raise self.fail(f"{node.this} with a unit that is not a string literal", node)
        if unit.lower() not in allowed:
            raise QueryFailed(
                "INVALID_FUNCTION_ARGUMENT", f"'{unit}' is not a valid Timestamp field", *self.where(unit_node)
            )
        return unit.lower()

    def _fn_regexp_extract(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 2, 3)
        return _fn("trino_regexp_extract", *args)

    def _fn_regexp_replace(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 2, 3)
        if len(args) == 2:
            args.append(exp.Literal.string(""))
        replacement = _literal_string(args[2])
        if replacement is None:
            raise self.fail("regexp_replace with a replacement that is not a string literal", node)
        # Java's "$1" / "${name}" group references; DuckDB (RE2) writes "\1".
        duck = re.sub(r"\\(.)|\$(\d)", lambda m: m.group(1) if m.group(1) else "\\" + m.group(2), replacement)
        return exp.Anonymous(
            this="regexp_replace", expressions=[args[0], args[1], exp.Literal.string(duck), exp.Literal.string("g")]
        )

    def _fn_date_format(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 2)
        return _fn("strftime", args[0], exp.Literal.string(mysql_format(self._format_argument(node, args, 1))))

    def _fn_date_parse(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 2)
        pattern = mysql_format(self._format_argument(node, args, 1), parsing=True)
        return exp.Cast(this=_fn("strptime", args[0], exp.Literal.string(pattern)),
                        to=exp.DataType.build("TIMESTAMP_MS", dialect="duckdb"))  # fmt: skip

    def _fn_format_datetime(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 2)
        return _fn("strftime", args[0], exp.Literal.string(joda_format(self._format_argument(node, args, 1))))

    def _fn_parse_datetime(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 2)
        pattern = joda_format(self._format_argument(node, args, 1))
        if "UTC" in pattern or "+0" in pattern:
            raise self.fail("parse_datetime with a zone pattern", node)
        pattern = pattern.replace("%-", "%")
        return exp.Cast(this=_fn("strptime", args[0], exp.Literal.string(pattern)),
                        to=exp.DataType.build("TIMESTAMPTZ"))  # fmt: skip

    def _fn_date_trunc(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 2)
        unit = self._unit(node, args[0], TIME_UNITS)
        return _fn("trino_date_trunc", exp.Literal.string(unit), args[1])

    def _fn_date_add(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 3)
        unit = self._unit(node, args[0], TIME_UNITS)
        amount: exp.Expr = exp.Cast(this=args[1], to=exp.DataType.build("BIGINT"))
        if unit == "quarter":
            unit, amount = "month", exp.Mul(this=amount, expression=exp.Literal.number(3))
        interval = _fn(_INTERVAL_FUNCTIONS[unit], amount)
        macro = "trino_date_add" if unit in DATE_UNITS else "trino_time_add"
        return _fn(macro, args[2], interval)

    def _fn_date_diff(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 3)
        unit = self._unit(node, args[0], TIME_UNITS)
        # DuckDB's date_sub counts whole units elapsed (Trino's meaning); its date_diff counts boundaries.
        return _fn("date_sub", exp.Literal.string(unit), args[1], args[2])

    def _fn_from_iso8601_timestamp(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 1)
        return _fn("trino_from_iso8601_timestamp", args[0])

    def _fn_from_iso8601_date(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 1)
        return exp.Cast(this=args[0], to=exp.DataType.build("DATE"))

    def _fn_to_iso8601(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 1)
        return _fn("trino_to_iso8601", args[0])

    def _fn_approx_percentile(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) != 2:
            raise self.fail("approx_percentile with a weight or an accuracy", node)
        percentiles = args[1]
        values = percentiles.expressions if isinstance(percentiles, exp.Array) else [percentiles]
        for value in values:
            number = _number(value)
            if number is None:
                raise self.fail("approx_percentile with a percentile that is not a number literal", node)
            if not 0 <= number <= 1:
                raise QueryFailed("INVALID_FUNCTION_ARGUMENT", "Percentile must be between 0 and 1", *self.where(node))
        quantile: exp.Expr = exp.Array(expressions=list(values)) if isinstance(percentiles, exp.Array) else percentiles
        return _fn("quantile_disc", args[0], quantile)

    def _fn_approx_distinct(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 1, 2)
        return exp.Count(this=exp.Distinct(expressions=[args[0]]))

    def _fn_round(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 1, 2)
        if len(args) == 1:
            return _fn("round", args[0])
        return _fn("trino_round", *args)

    def _fn_array_distinct(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 1)
        return _fn("trino_array_distinct", args[0])

    def _fn_array_position(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 2)
        return _fn("trino_array_position", *args)

    def _fn_strpos(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) != 2:
            raise self.fail("strpos with an instance argument", node)
        return _fn("trino_strpos", *args)

    def _fn_slice(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 3)
        return _fn("trino_slice", *args)

    def _fn_concat(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        if len(args) < 2:
            raise QueryFailed("INVALID_FUNCTION_ARGUMENT", "There must be two or more concatenation arguments",
                              *self.where(node))  # fmt: skip
        result: exp.Expr = args[0]
        for arg in args[1:]:
            result = exp.DPipe(this=result, expression=arg, safe=True)
        return exp.Paren(this=result)

    def _fn_millisecond(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 1)
        return exp.Mod(this=_fn("millisecond", args[0]), expression=exp.Literal.number(1000))

    def _fn_every(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 1)
        return _fn("bool_and", args[0])

    def _fn_e(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 0)
        return _fn("exp", exp.Literal.number(1))

    def _fn_current_timezone(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return exp.Literal.string("UTC")

    def _fn_now(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        return exp.CurrentTimestamp()

    def _fn_try(self, node: exp.Anonymous, args: list[exp.Expr]) -> exp.Expr:
        self._arity(node, args, 1)
        return _fn("try", args[0])

    # -- types and casts ---------------------------------------------------------------------------------------
    def _data_type(self, node: exp.DataType) -> exp.Expr:
        kind = node.this
        if kind in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATETIME):
            digits = _precision(node)
            name = "TIMESTAMP_MS" if digits is None or digits <= 3 else ("TIMESTAMP" if digits <= 6 else "TIMESTAMP_NS")
            if digits == 0:
                name = "TIMESTAMP_S"
            return exp.DataType.build(name, dialect="duckdb")
        if kind == exp.DataType.Type.TIMESTAMPTZ:
            return exp.DataType.build("TIMESTAMPTZ")
        if kind in (exp.DataType.Type.CHAR, exp.DataType.Type.NCHAR):
            raise self.fail("The CHAR type", node)
        if kind in (exp.DataType.Type.TIME, exp.DataType.Type.TIMETZ) and node.expressions:
            return exp.DataType.build("TIME")
        return node

    def _cast(self, node: exp.Cast) -> exp.Expr:
        target = node.to
        value = node.this
        safe = isinstance(node, exp.TryCast)
        cast_class = exp.TryCast if safe else exp.Cast
        kind = target.this
        if isinstance(value, exp.Null):
            return node
        if kind in (exp.DataType.Type.TINYINT, exp.DataType.Type.SMALLINT, exp.DataType.Type.INT,
                    exp.DataType.Type.BIGINT):  # fmt: skip
            # Trino rounds a double half away from zero; DuckDB rounds half to even.
            rounded = cast_class(this=_fn("round", exp.TryCast(this=value.copy(), to=exp.DataType.build("DOUBLE"))),
                                 to=target.copy())  # fmt: skip
            return _typeof_case(value, ("DOUBLE", "FLOAT"), rounded, cast_class(this=value, to=target))
        if kind == exp.DataType.Type.DECIMAL:
            # Trino: BigDecimal.valueOf(double), i.e. the shortest decimal text, rounded HALF_UP.
            via_text = cast_class(this=exp.Cast(this=value.copy(), to=exp.DataType.build("VARCHAR")), to=target.copy())
            return _typeof_case(value, ("DOUBLE", "FLOAT"), via_text, cast_class(this=value, to=target))
        if kind in (exp.DataType.Type.VARCHAR, exp.DataType.Type.TEXT, exp.DataType.Type.NVARCHAR):
            text = _to_varchar(value, cast_class)
            length = _precision(target)
            if length is not None:
                text = _fn("substr", text, exp.Literal.number(1), exp.Literal.number(length))
            return text
        return node

    # -- UNNEST ------------------------------------------------------------------------------------------------
    def _unnest(self, node: exp.Unnest) -> exp.Expr:
        if len(node.expressions) != 1:
            raise self.fail("UNNEST of more than one array", node)
        alias = node.args.get("alias")
        columns = list(alias.columns) if isinstance(alias, exp.TableAlias) else []
        ordinality = bool(node.args.get("offset"))
        if len(columns) > 1 + int(ordinality):
            raise self.fail("UNNEST of an array of rows or of a map into several columns", node)
        return node


# --- plan shape: top-N per group ----------------------------------------------------------------------------------
def separate_top_n_filters(tree: exp.Expr) -> exp.Expr:
    """``WHERE rn = 1 AND other`` over a ``row_number() OVER (PARTITION BY ...) AS rn`` source, filtered in two steps.

    DuckDB answers "the first row of each group" (``rn = 1``, ``rn <= k``, ``rn < k``) with an aggregate instead of
    sorting every group, but only when that comparison is the whole filter above the window; the latest-state-of-
    each-order pattern (``WHERE recency = 1 AND NOT is_deleted``) then sorts a million rows. Same rows, same
    answer: the comparison (with any conjunct on the window's partition columns, which DuckDB pushes below the
    window anyway) is applied in a subquery that the other conjuncts cannot merge into (``OFFSET 0``), and the
    other conjuncts above it.
    """
    for select in list(tree.find_all(exp.Select)):
        where = select.args.get("where")
        from_ = select.args.get("from_")
        if not isinstance(where, exp.Where) or not isinstance(from_, exp.From) or select.args.get("joins"):
            continue
        if select.args.get("laterals"):
            continue
        source = from_.this
        alias = source.args.get("alias")
        if isinstance(alias, exp.TableAlias) and alias.columns:
            continue
        inner = _source_query(source)
        if inner is None:
            continue
        outputs: dict[str, exp.Expr] = {}
        for projection in inner.expressions:
            name = projection.alias_or_name.lower()
            if not name or name in outputs or isinstance(projection, exp.Star) or projection.is_star:
                outputs = {}
                break
            outputs[name] = projection.this if isinstance(projection, exp.Alias) else projection
        conjuncts = _and_terms(where.this)
        ranked = next((c for c in conjuncts if _top_n_comparison(c, outputs)), None)
        if ranked is None:
            continue
        window = outputs[next(iter(ranked.find_all(exp.Column))).name.lower()]
        partitioned = {c.name.lower() for c in window.args.get("partition_by") or [] if isinstance(c, exp.Column)}
        below = {
            name
            for name, value in outputs.items()
            if isinstance(value, exp.Column) and value.name.lower() in partitioned
        }
        qualifier = source.alias_or_name.lower()
        keep = [ranked] + [c for c in conjuncts if c is not ranked and _only_columns(c, below, qualifier)]
        rest = [c for c in conjuncts if all(c is not k for k in keep)]
        if not rest:
            continue
        step = exp.select("*").from_(source.copy()).where(exp.and_(*[c.copy() for c in keep])).offset(0)
        replacement = exp.Subquery(this=step, alias=alias.copy() if isinstance(alias, exp.TableAlias) else None)
        if not isinstance(alias, exp.TableAlias) and isinstance(source, exp.Table):
            replacement.set("alias", exp.TableAlias(this=source.this.copy()))
        from_.set("this", replacement)
        select.set("where", exp.Where(this=exp.and_(*[c.copy() for c in rest])))
    return tree


def _source_query(source: exp.Expr) -> exp.Select | None:
    """The SELECT a FROM item reads: a subquery's, or that of the CTE it names."""
    if isinstance(source, exp.Subquery):
        return source.this if isinstance(source.this, exp.Select) else None
    if not isinstance(source, exp.Table) or source.db or not isinstance(source.this, exp.Identifier):
        return None
    name = source.name.lower()
    node: exp.Expr | None = source
    while node is not None:
        with_ = node.args.get("with_")
        if isinstance(with_, exp.With):
            for cte in with_.expressions:
                if cte.alias_or_name.lower() == name:
                    return cte.this if isinstance(cte.this, exp.Select) and not with_.args.get("recursive") else None
        node = node.parent
    return None


def _and_terms(condition: exp.Expr) -> list[exp.Expr]:
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        return _and_terms(condition.this) + _and_terms(condition.expression)
    return [condition]


def _top_n_comparison(conjunct: exp.Expr, outputs: dict[str, exp.Expr]) -> bool:
    """``rn = 1``, ``rn <= k`` or ``rn < k`` (either way round) on a ``row_number()`` window of the source."""
    mirrored: dict[type[exp.Expr], type[exp.Expr]] = {exp.GTE: exp.LTE, exp.GT: exp.LT, exp.EQ: exp.EQ}
    if not isinstance(conjunct, exp.EQ | exp.LTE | exp.LT | exp.GTE | exp.GT):
        return False
    left, right = conjunct.this, conjunct.expression
    kind: type[exp.Expr] = type(conjunct)
    if isinstance(right, exp.Column) and not isinstance(left, exp.Column):
        left, right, kind = right, left, mirrored.get(kind, kind)
    if kind not in (exp.EQ, exp.LTE, exp.LT) or not isinstance(left, exp.Column):
        return False
    if not (isinstance(right, exp.Literal) and right.is_int):
        return False
    window = outputs.get(left.name.lower())
    if not isinstance(window, exp.Window) or not isinstance(window.this, exp.RowNumber):
        return False
    bound = int(right.this)
    return bound == 1 if kind is exp.EQ else bound >= (1 if kind is exp.LTE else 2)


def _only_columns(conjunct: exp.Expr, names: set[str], qualifier: str) -> bool:
    """Whether the conjunct reads nothing but these columns of the FROM item (and is a plain expression)."""
    columns = list(conjunct.find_all(exp.Column))
    if not columns or any(isinstance(n, exp.Subquery | exp.Select | exp.AggFunc | exp.Window) for n in conjunct.walk()):
        return False
    return all(c.name.lower() in names and c.table.lower() in ("", qualifier) for c in columns)


def duckdb_sql(tree: exp.Expr) -> str:
    """DuckDB text for a rewritten tree; what sqlglot cannot say in DuckDB fails the query, never silently."""
    try:
        return tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as err:
        raise not_supported(f"{err} (in the translation to DuckDB)") from err


def _typeof_case(value: exp.Expr, types: tuple[str, ...], then: exp.Expr, otherwise: exp.Expr) -> exp.Expr:
    """``CASE WHEN typeof(value) IN types THEN then ELSE otherwise END``: DuckDB folds typeof at bind time."""
    condition = exp.In(this=_fn("typeof", value.copy()), expressions=[exp.Literal.string(t) for t in types])
    return exp.Case(ifs=[exp.If(this=condition, true=then)], default=otherwise)


def _to_varchar(value: exp.Expr, cast_class: type[exp.Cast]) -> exp.Expr:
    """CAST(x AS varchar) with Trino's text for doubles, reals and timestamps."""

    def typed(type_name: str) -> exp.Expr:
        return exp.TryCast(this=value.copy(), to=exp.DataType.build(type_name, dialect="duckdb"))

    cases = [
        ("DOUBLE", _fn("trino_java_double", typed("DOUBLE"))),
        ("FLOAT", _fn("trino_java_float", typed("FLOAT"))),
        ("TIMESTAMP_S", _fn("strftime", typed("TIMESTAMP"), exp.Literal.string("%Y-%m-%d %H:%M:%S"))),
        ("TIMESTAMP", _fn("strftime", typed("TIMESTAMP"), exp.Literal.string("%Y-%m-%d %H:%M:%S.%g"))),
        ("TIMESTAMP_MS", _fn("strftime", typed("TIMESTAMP"), exp.Literal.string("%Y-%m-%d %H:%M:%S.%g"))),
        ("TIMESTAMP WITH TIME ZONE",
         _fn("strftime", typed("TIMESTAMPTZ"), exp.Literal.string("%Y-%m-%d %H:%M:%S.%g UTC"))),
    ]  # fmt: skip
    ifs = [
        exp.If(this=exp.EQ(this=_fn("typeof", value.copy()), expression=exp.Literal.string(t)), true=then)
        for t, then in cases
    ]
    return exp.Case(ifs=ifs, default=cast_class(this=value, to=exp.DataType.build("VARCHAR")))


def _precision(node: exp.DataType) -> int | None:
    for param in node.expressions:
        inner = param.this if isinstance(param, exp.DataTypeParam) else param
        if isinstance(inner, exp.Literal) and inner.is_number:
            return int(inner.this)
    return None


def _number(node: exp.Expr) -> float | None:
    if isinstance(node, exp.Literal) and node.is_number:
        return float(node.this)
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and node.this.is_number:
        return -float(node.this.this)
    return None


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- decimals: exact division with Trino's result type ------------------------------------------------------------
INTEGER_AS_DECIMAL = {"TINYINT": (3, 0), "SMALLINT": (5, 0), "INTEGER": (10, 0), "BIGINT": (19, 0), "HUGEINT": (19, 0),
                      "UTINYINT": (3, 0), "USMALLINT": (5, 0), "UINTEGER": (10, 0), "UBIGINT": (20, 0)}  # fmt: skip
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


def numeric_kind(duckdb_type: str) -> tuple[str, tuple[int, int] | None]:
    """('decimal'|'integer'|'float'|'null'|'other', (precision, scale) for decimals and integers)."""
    text = duckdb_type.strip().upper()
    match = _DECIMAL.match(text)
    if match:
        return "decimal", (int(match.group(1)), int(match.group(2)))
    if text in INTEGER_AS_DECIMAL:
        return "integer", INTEGER_AS_DECIMAL[text]
    if text in ("DOUBLE", "FLOAT"):
        return "float", None
    if text in ('"NULL"', "NULL"):
        return "null", None
    return "other", None


def decimal_division(
    a: exp.Expr, b: exp.Expr, left: tuple[int, int], right: tuple[int, int], result_scale: int | None = None
) -> tuple[exp.Expr, tuple[int, int]]:
    """Trino's DECIMAL division: precision min(38, p1 + s2 + max(0, s2 - s1)), scale max(s1, s2), HALF_UP."""
    (p1, s1), (_, s2) = left, right
    scale = max(s1, s2) if result_scale is None else result_scale
    precision = min(38, p1 + s2 + max(0, s2 - s1))
    shift = scale + s2 - s1
    numerator = f"trino_unscaled({duckdb_sql(a)}) * CAST({10**shift} AS HUGEINT)"
    quotient = f"trino_half_up_divide({numerator}, trino_unscaled({duckdb_sql(b)}))"
    exact = f"CAST(CAST({quotient} AS VARCHAR) || 'e-{scale}' AS DECIMAL(38, {scale}))"
    text = f"CAST({exact} AS DECIMAL({precision}, {scale}))"
    return sqlglot.parse_one(text, read="duckdb"), (precision, scale)
