"""Name resolution for a query: Glue tables become scans, views become their (bound) queries.

- ``db.table`` / ``table`` (the context database) / ``awsdatacatalog.db.table`` resolve in the Glue catalog,
  case-insensitively; CTE names shadow tables. A missing one is Athena's ``TABLE_NOT_FOUND`` /
  ``SCHEMA_NOT_FOUND`` / ``CATALOG_NOT_FOUND`` at the name's line:column.
- A view is its stored ``originalSql`` (Presto view JSON), bound in the view's own schema, recursively.
- A table becomes ``Scan``: a DuckDB relation ``__scan<N>`` the engine fills from the table's S3 objects,
  with the WHERE conjuncts of its own SELECT that touch only its partition keys (for pruning). Predicates
  are also pushed into a view/subquery/CTE that only projects and filters (no aggregation, window,
  DISTINCT, LIMIT or set operation), as Trino's optimizer does; never through a window function.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from localaws.athena_engine import sql
from localaws.athena_engine.catalog import CATALOG_NAME, Catalog, Column, GlueTable
from localaws.athena_engine.errors import QueryFailed

MAX_VIEW_DEPTH = 16
_NON_DETERMINISTIC = {"rand", "random", "uuid", "now", "shuffle"}


@dataclass
class Scan:
    """One read of a Glue table in the query."""

    id: int
    table: GlueTable
    predicates: list[exp.Expr] = field(default_factory=list)  # Trino, columns unqualified

    @property
    def relation(self) -> str:
        return f"__scan{self.id}"


class Binder:
    def __init__(self, catalog: Catalog, database: str | None, positions: sql.PositionMap) -> None:
        self.catalog = catalog
        self.database = database
        self.positions = positions
        self.scans: list[Scan] = []
        self.uses_path = False

    # -- entry ------------------------------------------------------------------------------------------------
    def bind(self, tree: exp.Expr) -> exp.Expr:
        self.uses_path = any(isinstance(i, exp.Identifier) and i.name == "$path" for i in tree.walk())
        return self._bind(tree.copy(), self.database, self.positions, depth=0)

    def _bind(self, tree: exp.Expr, database: str | None, positions: sql.PositionMap, depth: int) -> exp.Expr:
        self._push_into_derived_tables(tree)
        for table in list(tree.find_all(exp.Table)):
            if not isinstance(table.this, exp.Identifier) or _is_cte(table):
                continue
            replacement = self._resolve(table, database, positions, depth)
            if table is tree:
                tree = replacement
            else:
                table.replace(replacement)
        return tree

    @staticmethod
    def _push_into_derived_tables(tree: exp.Expr) -> None:
        """Outer WHERE conjuncts reach subqueries in FROM, and CTEs read once; outermost first."""
        for node in list(tree.walk(bfs=True)):
            if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select):
                outer = _source_select(node)
                if outer is not None:
                    _push(outer, node.alias_or_name, node.this)
            with_ = node.args.get("with_") if isinstance(node, exp.Expr) else None
            if not isinstance(with_, exp.With):
                continue
            for cte in with_.expressions:
                name = cte.alias_or_name.lower()
                references = [t for t in node.find_all(exp.Table) if not t.db and t.name.lower() == name]
                if len(references) == 1 and isinstance(cte.this, exp.Select):
                    outer = _source_select(references[0])
                    if outer is not None:
                        _push(outer, references[0].alias_or_name, cte.this)

    # -- one table reference ------------------------------------------------------------------------------------
    def _resolve(self, table: exp.Table, database: str | None, positions: sql.PositionMap, depth: int) -> exp.Expr:
        line, column = sql.position(table, positions)
        catalog = table.catalog
        if catalog and catalog.lower() != CATALOG_NAME:
            raise QueryFailed("CATALOG_NOT_FOUND", f"Catalog '{catalog.lower()}' does not exist", line, column)
        schema = table.db or database
        name = table.name
        if not schema:
            raise QueryFailed("SCHEMA_NOT_FOUND", "Schema must be specified when session schema is not set",
                              line, column)  # fmt: skip
        if not self.catalog.database_exists(schema):
            raise QueryFailed("SCHEMA_NOT_FOUND", f"Schema '{schema.lower()}' does not exist", line, column)
        found = self.catalog.table(schema, name)
        if found is None:
            raise QueryFailed(
                "TABLE_NOT_FOUND",
                f"Table '{CATALOG_NAME}.{schema.lower()}.{name.lower()}' does not exist",
                line,
                column,
            )
        alias = table.args.get("alias")
        alias_name = alias.name if isinstance(alias, exp.TableAlias) and alias.name else found.name
        new_alias = (
            alias.copy()
            if isinstance(alias, exp.TableAlias) and alias.name
            else exp.TableAlias(this=exp.to_identifier(alias_name))
        )
        if isinstance(alias, exp.TableAlias) and not alias.name and alias.columns:
            new_alias.set("columns", [c.copy() for c in alias.columns])
        self._strip_qualifiers(table, found)
        if found.is_view:
            if depth >= MAX_VIEW_DEPTH:
                raise QueryFailed("VIEW_IS_RECURSIVE", f"View is recursive: '{found.qualified}'", line, column)
            body = self._view_body(found, depth, _source_select(table), alias_name)
            return exp.Subquery(this=body, alias=new_alias)
        scan = Scan(len(self.scans) + 1, found)
        self.scans.append(scan)
        self._collect_predicates(table, scan, alias_name)
        return exp.Table(this=exp.to_identifier(scan.relation), alias=new_alias)

    def _view_body(self, view: GlueTable, depth: int, outer: exp.Select | None, alias: str) -> exp.Expr:
        definition = view.view_definition()
        text = str(definition.get("originalSql") or "")
        view_positions = sql.PositionMap(text)
        try:
            body = sql.parse(text, view_positions)
            if outer is not None and isinstance(body, exp.Select):
                _push(outer, alias, body)
            return self._bind(body, str(definition.get("schema") or view.database), view_positions, depth + 1)
        except QueryFailed as err:
            raise QueryFailed(err.name, f"Failed analyzing stored view '{view.qualified}': {err.reason}") from err

    # -- predicates for partition pruning ------------------------------------------------------------------------
    def _collect_predicates(self, table: exp.Table, scan: Scan, alias: str) -> None:
        select = _source_select(table)
        if select is None:
            return
        keys = {c.name for c in scan.table.partition_keys}
        columns = {c.name: c for c in [*scan.table.columns, *scan.table.partition_keys]}
        sole = _single_source(select)
        for conjunct in _conjuncts(select.args.get("where")):
            self._check_types(conjunct, columns, alias, sole)
        for conjunct in _all_conjuncts(select):
            if keys and _prunable(conjunct, keys, alias, sole):
                scan.predicates.append(_unqualified(conjunct))

    def _check_types(self, conjunct: exp.Expr, columns: dict[str, Column], alias: str, sole: bool) -> None:
        """Trino does not coerce varchar and numbers: ``year = 2026`` on a string column fails."""
        for comparison in conjunct.find_all(exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE):
            left, right = comparison.this, comparison.expression
            for column, literal in ((left, right), (right, left)):
                if not isinstance(column, exp.Column) or not _is_literal(literal):
                    continue
                if not ((column.table and column.table.lower() == alias.lower()) or (not column.table and sole)):
                    continue
                declared = columns.get(column.name.lower())
                if declared is None:
                    continue
                hive = declared.type
                family = hive.family()
                literal_family, literal_type = _literal_type(literal)
                if family in ("string", "number", "boolean") and literal_family not in (family, "null"):
                    line, col = sql.position(comparison, self.positions)
                    operator = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<",
                                exp.LTE: "<="}[type(comparison)]  # fmt: skip
                    sides = (hive.trino(), literal_type) if column is left else (literal_type, hive.trino())
                    raise QueryFailed("TYPE_MISMATCH", f"Cannot apply operator: {sides[0]} {operator} {sides[1]}",
                                      line, col)  # fmt: skip

    @staticmethod
    def _strip_qualifiers(table: exp.Table, found: GlueTable) -> None:
        """``db.t.col`` refers to the table by its alias once bound: drop the schema part."""
        select = _source_select(table)
        if select is None or not table.db:
            return
        for column in select.find_all(exp.Column):
            if column.args.get("db") and column.table.lower() == found.name.lower():
                column.set("db", None)
                column.set("catalog", None)


# --- helpers ------------------------------------------------------------------------------------------------
def _is_cte(table: exp.Table) -> bool:
    if table.db or table.catalog:
        return False
    name = table.name.lower()
    node: exp.Expr | None = table
    while node is not None:
        with_ = node.args.get("with_")
        if isinstance(with_, exp.With) and any(cte.alias_or_name.lower() == name for cte in with_.expressions):
            return True
        node = node.parent
    return False


def _source_select(node: exp.Expr) -> exp.Select | None:
    """The SELECT whose FROM or JOIN reads this table or subquery."""
    parent = node.parent
    if isinstance(parent, exp.From | exp.Join) and isinstance(parent.parent, exp.Select):
        return parent.parent
    return None


def _all_conjuncts(select: exp.Select) -> list[exp.Expr]:
    """The SELECT's WHERE conjuncts and those pushed into it from outer queries."""
    return _conjuncts(select.args.get("where")) + list(getattr(select, "_localaws_pushed", []))


def _push(outer: exp.Select, alias: str, inner: exp.Select) -> None:
    """Outer conjuncts on columns the inner SELECT passes through unchanged become its conjuncts too."""
    if not _transparent(inner):
        return
    sole = _single_source(outer)
    outputs = {}
    for projection in inner.expressions:
        target = projection.this if isinstance(projection, exp.Alias) else projection
        if isinstance(target, exp.Column) and not target.is_star:
            outputs[projection.alias_or_name.lower()] = target
    pushed = list(getattr(inner, "_localaws_pushed", []))
    for conjunct in _all_conjuncts(outer):
        columns = list(conjunct.find_all(exp.Column))
        if not columns or not _deterministic(conjunct):
            continue
        if all((c.table.lower() == alias.lower() or (not c.table and sole)) and c.name.lower() in outputs
               for c in columns):  # fmt: skip
            moved = conjunct.copy()
            for column in list(moved.find_all(exp.Column)):
                column.replace(outputs[column.name.lower()].copy())
            pushed.append(moved)
    if pushed:
        inner._localaws_pushed = pushed  # type: ignore[attr-defined]  # read when its tables are bound


def _single_source(select: exp.Select) -> bool:
    return not select.args.get("joins")


def _conjuncts(where: exp.Expr | None) -> list[exp.Expr]:
    if where is None:
        return []
    condition = where.this if isinstance(where, exp.Where) else where
    out: list[exp.Expr] = []
    stack = [condition]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.And):
            stack.extend([node.expression, node.this])
        elif isinstance(node, exp.Paren):
            stack.append(node.this)
        else:
            out.append(node)
    return out


def _deterministic(node: exp.Expr) -> bool:
    if any(isinstance(n, exp.Subquery | exp.Select | exp.AggFunc | exp.Window | exp.Rand) for n in node.walk()):
        return False
    return not any(isinstance(n, exp.Anonymous) and str(n.this).lower() in _NON_DETERMINISTIC for n in node.walk())


def _prunable(conjunct: exp.Expr, keys: set[str], alias: str, sole: bool) -> bool:
    columns = list(conjunct.find_all(exp.Column))
    if not columns or not _deterministic(conjunct):
        return False
    for column in columns:
        if column.name.lower() not in keys:
            return False
        if column.table and column.table.lower() != alias.lower():
            return False
        if not column.table and not sole:
            return False
    return True


def _unqualified(conjunct: exp.Expr) -> exp.Expr:
    copy = conjunct.copy()
    for column in copy.find_all(exp.Column):
        column.replace(exp.column(column.name.lower(), quoted=True))
    return copy


def _transparent(select: exp.Select) -> bool:
    if any(select.args.get(k) for k in ("group", "having", "limit", "offset", "distinct", "qualify")):
        return False
    return not any(isinstance(n, exp.Window | exp.AggFunc) for p in select.expressions for n in p.walk())


def _is_literal(node: exp.Expr) -> bool:
    return isinstance(node, exp.Literal | exp.Boolean | exp.Null) or (
        isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal)
    )


def _literal_type(node: exp.Expr) -> tuple[str, str]:
    if isinstance(node, exp.Null):
        return "null", "unknown"
    if isinstance(node, exp.Boolean):
        return "boolean", "boolean"
    literal = node.this if isinstance(node, exp.Neg) else node
    if isinstance(literal, exp.Literal) and literal.is_string:
        return "string", f"varchar({len(str(literal.this))})"
    text = str(literal.this)
    if "e" in text.lower():
        return "number", "double"
    if "." in text:
        integral, fraction = text.split(".", 1)
        return "number", f"decimal({len(integral.lstrip('-')) + len(fraction)},{len(fraction)})"
    return "number", "integer" if abs(int(text)) < 2**31 else "bigint"


def check_alias_references(tree: exp.Expr, scans: list[Scan], positions: sql.PositionMap) -> None:
    """Trino resolves WHERE, GROUP BY and HAVING against the FROM clause only, never the select list's aliases.

    DuckDB would accept ``SELECT f(x) AS y ... GROUP BY y``; Athena fails it with COLUMN_NOT_FOUND, and so
    does localaws wherever every source's columns are known.
    """
    relations = {scan.relation: scan for scan in scans}
    for select in tree.find_all(exp.Select):
        aliases = {p.alias.lower() for p in select.expressions if isinstance(p, exp.Alias)}
        if not aliases:
            continue
        visible = _visible_columns(select, relations)
        if visible is None:
            continue
        for key in ("where", "group", "having"):
            clause = select.args.get(key)
            if clause is None:
                continue
            for column in clause.find_all(exp.Column):
                name = column.name.lower()
                if column.table or name not in aliases or name in visible:
                    continue
                if _nearest_select(column) is not select:
                    continue
                line, col = sql.position(column, positions)
                raise QueryFailed("COLUMN_NOT_FOUND", f"Column '{column.name}' cannot be resolved", line, col)


def _nearest_select(node: exp.Expr) -> exp.Select | None:
    parent = node.parent
    while parent is not None and not isinstance(parent, exp.Select):
        parent = parent.parent
    return parent


def _visible_columns(select: exp.Select, relations: dict[str, Scan]) -> set[str] | None:
    """Every column name the SELECT and its enclosing SELECTs read from their sources; None if one is unknown."""
    names: set[str] = set()
    current: exp.Select | None = select
    while current is not None:
        from_ = current.args.get("from_")
        sources = ([from_.this] if isinstance(from_, exp.From) else []) + [
            j.this for j in current.args.get("joins") or []
        ]
        for source in sources:
            columns = _source_columns(source, relations, current)
            if columns is None:
                return None
            names |= columns
        current = _nearest_select(current)
    return names


def _source_columns(source: exp.Expr, relations: dict[str, Scan], select: exp.Select) -> set[str] | None:
    alias = source.args.get("alias")
    if isinstance(alias, exp.TableAlias) and alias.columns:
        return {c.name.lower() for c in alias.columns}
    if isinstance(source, exp.Table):
        scan = relations.get(source.name)
        if scan is not None:
            return {c.name for c in [*scan.table.columns, *scan.table.partition_keys]} | {"$path"}
        node: exp.Expr | None = select
        while node is not None:
            with_ = node.args.get("with_")
            if isinstance(with_, exp.With):
                for cte in with_.expressions:
                    if cte.alias_or_name.lower() == source.name.lower():
                        cte_alias = cte.args.get("alias")
                        if isinstance(cte_alias, exp.TableAlias) and cte_alias.columns:
                            return {c.name.lower() for c in cte_alias.columns}
                        return _query_columns(cte.this)
            node = node.parent
        return None
    if isinstance(source, exp.Subquery):
        return _query_columns(source.this)
    return None


def _query_columns(query: exp.Expr) -> set[str] | None:
    names = output_names(query)
    if not names or any(n is None or n.startswith("_col") for n in names):
        return None
    return {str(n).lower() for n in names}


def output_names(tree: exp.Expr) -> list[str | None]:
    """The result column names Trino gives the select list (None where a ``*`` expands: DuckDB names those)."""
    select = tree
    while isinstance(select, exp.Union | exp.Except | exp.Intersect):
        select = select.this
    if isinstance(select, exp.Subquery):
        return output_names(select.this)
    if not isinstance(select, exp.Select):
        return []
    names: list[str | None] = []
    for index, projection in enumerate(select.expressions):
        if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column) and projection.is_star):
            names.append(None)
        elif isinstance(projection, exp.Alias):
            alias = projection.args.get("alias")
            quoted = isinstance(alias, exp.Identifier) and alias.quoted
            names.append(projection.alias if quoted else projection.alias.lower())
        elif isinstance(projection, exp.Column):
            names.append(projection.name.lower() if not projection.this.quoted else projection.name)
        elif isinstance(projection, exp.Dot):
            names.append(projection.name.lower())
        else:
            names.append(f"_col{index}")
    return names
