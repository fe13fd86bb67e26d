"""The daily analytics report: every file of it, rendered from the Athena query results.

``render_report`` turns the results of the report and check queries into the files written under
``reports/ds=YYYY-MM-DD/``: ``report.html`` (one self-contained page: inline CSS, charts as ``data:`` URIs),
``report.md`` (the same content; charts are the sibling PNG files), and per query ``<name>.csv`` (the rows
exactly as Athena returned them) and ``<name>.png`` (its chart, or a small picture of its result when it
has none). ``summary`` is the small JSON-able dict a task returns as its XCom; ``summary_table`` the plain
text table it logs.

Everything here is a pure function of its inputs: no AWS call, no network, no clock; the same inputs give
the same bytes. Values arrive as Athena's GetQueryResults gives them (text; ``None`` for NULL) and are
parsed by their column's Athena type. jinja2 and matplotlib are imported inside the functions that use
them, so importing this module stays light (DAG files are parsed without them); charts are drawn on a bare
``Figure`` with the Agg canvas, never through pyplot, so no global backend or figure state is touched.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import re
import struct
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

CHART_KINDS = ("bar", "line", "hist", "none")
QUERY_KINDS = ("report", "check")

#: The query whose single row is shown as the headline numbers (and returned by ``summary``).
HEADLINE_QUERY = "headline"
#: Rows shown in the HTML/Markdown table of a report query, and of a check's findings.
REPORT_TABLE_ROWS = 50
CHECK_TABLE_ROWS = 20
#: Categories drawn in a bar chart, buckets in a histogram (the chart title says how many there were).
CHART_MAX_BARS = 20
CHART_MAX_BUCKETS = 50
#: Figure size in inches at ``CHART_DPI``: 700 x 350 pixels (horizontal bar charts grow with their bars).
CHART_SIZE = (7.0, 3.5)
CHART_DPI = 100
#: How a NULL reads in the HTML and Markdown (the CSV keeps an empty field).
NULL_TEXT = "\u2014"
#: Columns whose numbers are money: shown with 2 decimals.
MONEY_COLUMN = re.compile(r"revenue|price|amount|aov|order_value|cost|spend", re.IGNORECASE)
#: Integer columns that are labels, not quantities: shown without thousands separators (2026, not 2,026).
PLAIN_INTEGER_COLUMN = re.compile(r"(^|_)(year|month|day|hour|minute|id)$", re.IGNORECASE)

# A query name becomes file names (<name>.csv, <name>.png) under the report prefix and an HTML id.
_QUERY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
_INT_TYPES = frozenset({"tinyint", "smallint", "integer", "int", "bigint"})
_FLOAT_TYPES = frozenset({"double", "real", "float"})
_TEMPLATES = Path(__file__).with_name("templates")
_COLORS = ("#0969da", "#e16f24", "#1a7f37", "#8250df", "#bf3989", "#57606a", "#9a6700")
# Series whose largest values differ more than this are drawn in panels of their own, not on one axis.
_SHARED_AXIS_MAX_RATIO = 20.0
_CHART_RC: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs, so the same PNG, everywhere
    "font.size": 9,
    "text.parse_math": False,  # a product named "$5 deal" is text, not mathtext
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#8c959f",
    "axes.labelcolor": "#1f2328",
    "xtick.color": "#57606a",
    "ytick.color": "#57606a",
    "legend.frameon": False,
    "legend.fontsize": 8,
    "grid.color": "#d0d7de",
    "grid.linewidth": 0.6,
}


@dataclass(frozen=True)
class Chart:
    """How to draw a report query's result."""

    kind: str  # "bar" | "line" | "hist" (bars of pre-bucketed counts) | "none"
    x: str  # column for the x axis / categories
    y: tuple[str, ...]  # one or more numeric columns
    title: str

    def __post_init__(self) -> None:
        if self.kind not in CHART_KINDS:
            raise ValueError(f"Chart.kind must be one of {', '.join(CHART_KINDS)}; got {self.kind!r}")
        if isinstance(self.y, str):  # Chart(..., y="revenue", ...): one column, not its letters
            object.__setattr__(self, "y", (self.y,))
        elif not isinstance(self.y, tuple):
            object.__setattr__(self, "y", tuple(self.y))
        if self.kind != "none" and not self.y:
            raise ValueError(f"Chart {self.title!r}: y names no column")


@dataclass
class QueryResult:
    """One Athena query of the report and what it returned (``rows`` without the header row)."""

    name: str  # e.g. "headline", "revenue_by_product", "check_duplicate_deliveries"
    kind: str  # "report" | "check"
    title: str  # human title, e.g. "Revenue by product"
    description: str  # one sentence: what it answers / what a finding means
    columns: list[tuple[str, str]]  # (column name, Athena type: varchar, bigint, decimal(18,2), ...)
    rows: list[list[str | None]]  # values exactly as GetQueryResults gives them (None = NULL)
    query_execution_id: str
    engine_ms: int  # Statistics.EngineExecutionTimeInMillis
    data_scanned_bytes: int  # Statistics.DataScannedInBytes
    chart: Chart | None = None

    def __post_init__(self) -> None:
        if not _QUERY_NAME.fullmatch(self.name):
            raise ValueError(
                f"query name {self.name!r} must be 1-128 letters, digits, '_' or '-' (it names the report's files)"
            )
        if self.kind not in QUERY_KINDS:
            raise ValueError(f"query {self.name}: kind must be 'report' or 'check'; got {self.kind!r}")
        if not self.columns:
            raise ValueError(f"query {self.name}: no columns")
        names = [name for name, _ in self.columns]
        for number, row in enumerate(self.rows, start=1):
            if len(row) != len(names):
                raise ValueError(f"query {self.name}: row {number} has {len(row)} values for {len(names)} columns")
        if self.chart is not None and self.chart.kind != "none":
            missing = [c for c in (self.chart.x, *self.chart.y) if c not in names]
            if missing:
                raise ValueError(f"query {self.name}: chart names unknown column(s) {missing}; columns are {names}")

    @property
    def findings(self) -> int:
        """For a check, its number of rows (each row is a finding); 0 for a report."""
        return len(self.rows) if self.kind == "check" else 0


# --- values ---------------------------------------------------------------------------------------------


def _base_type(athena_type: str) -> str:
    """``decimal(18,2)`` -> ``decimal``; ``timestamp(3) with time zone`` -> ``timestamp``."""
    return re.split(r"[\s(]", athena_type.strip().lower(), maxsplit=1)[0]


def _is_numeric_type(athena_type: str) -> bool:
    base = _base_type(athena_type)
    return base in _INT_TYPES or base in _FLOAT_TYPES or base == "decimal"


def parse_value(text: str | None, athena_type: str) -> int | float | str | bool | None:
    """An Athena text value as the JSON-able Python value of its type.

    bigint/integer -> int, double/real -> float (NaN and infinities -> None, which JSON can hold),
    decimal -> the text itself, kept exact (``"1234.50"``), boolean -> bool, anything else -> the text.
    A value that does not parse as its type is returned as the text rather than failing the report.
    """
    if text is None:
        return None
    base = _base_type(athena_type)
    value = text.strip()
    try:
        if base in _INT_TYPES:
            return int(value)
        if base in _FLOAT_TYPES:
            number = float(value)
            return number if math.isfinite(number) else None
        if base == "decimal":
            Decimal(value)  # validates; the text is the exact value
            return value
    except (ValueError, InvalidOperation):
        return text
    if base == "boolean" and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return text


def _number(text: str | None) -> float | None:
    """A value as a finite float for a chart; None (skipped) for NULL, NaN or text that is no number."""
    if text is None:
        return None
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def format_value(text: str | None, athena_type: str, column: str = "") -> str:
    """A value as an analyst reads it: thousands separators, money with 2 decimals, NULL as an em dash."""
    if text is None:
        return NULL_TEXT
    base = _base_type(athena_type)
    money = bool(MONEY_COLUMN.search(column))
    try:
        if base in _INT_TYPES:
            return str(int(text)) if PLAIN_INTEGER_COLUMN.search(column) else f"{int(text):,}"
        if base == "decimal":
            exact = Decimal(text.strip())
            if not exact.is_finite():
                return text
            exponent = exact.as_tuple().exponent
            if money and isinstance(exponent, int) and exponent > -2:
                exact = exact.quantize(Decimal("0.01"))
            return f"{exact:,f}"
        if base in _FLOAT_TYPES:
            number = float(text)
            if not math.isfinite(number):
                return text
            # Two decimals (money, and any double from 1 up); 4 significant digits for small fractions.
            return f"{number:,.2f}" if money or abs(number) >= 1 or number == 0 else f"{number:.4g}"
    except (ValueError, InvalidOperation):
        return text
    return text


def format_bytes(count: int) -> str:
    """Bytes in binary units: ``512 B``, ``1.5 KiB``, ``3.2 GiB``."""
    if count < 1024:
        return f"{count:,} B"
    value = float(count)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:,.1f} PiB"


def _label(column: str) -> str:
    """``avg_order_value`` -> ``Avg order value``."""
    words = column.replace("_", " ").strip()
    return words[:1].upper() + words[1:] if words else column


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


# --- CSV ------------------------------------------------------------------------------------------------


def render_csv(result: QueryResult) -> bytes:
    """Header line and rows, as the query returned them (RFC 4180: CRLF, minimal quoting; NULL -> empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([name for name, _ in result.columns])
    writer.writerows(result.rows)
    return buffer.getvalue().encode("utf-8")


# --- charts ---------------------------------------------------------------------------------------------


def render_png(result: QueryResult) -> bytes:
    """The query's PNG: its chart, or (no chart, a check, a single row) a picture of its result as text."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    chart = result.chart
    drawable = chart is not None and chart.kind != "none" and (result.kind == "report" or result.rows)
    with matplotlib.rc_context(_CHART_RC), warnings.catch_warnings():
        # A name in a script DejaVu Sans lacks (CJK, say) is drawn as boxes; its warnings would only flood the log.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        figure = _chart_figure(result, chart) if drawable and chart is not None else _text_figure(result)
        FigureCanvasAgg(figure)
        buffer = io.BytesIO()
        # No "Software" chunk (matplotlib's version) and no timestamp: the same result, the same bytes.
        figure.savefig(buffer, format="png", dpi=CHART_DPI, metadata={"Software": None})
    return buffer.getvalue()


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def _new_figure(height: float = CHART_SIZE[1]) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=(CHART_SIZE[0], height), dpi=CHART_DPI, layout="constrained")


def _short(text: str | None, limit: int = 28) -> str:
    if text is None:
        return NULL_TEXT
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _thousands(axis: Any, values: Sequence[float]) -> None:
    """Tick labels with thousands separators once the numbers reach the thousands."""
    from matplotlib.ticker import StrMethodFormatter

    if values and max(abs(v) for v in values) >= 1000:
        axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _separate_scales(series: Sequence[Sequence[float | None]]) -> bool:
    """True when several series differ so much in size that one axis would flatten the smaller ones."""
    peaks = [max((abs(v) for v in values if v is not None), default=0.0) for values in series]
    peaks = [p for p in peaks if p > 0]
    return len(peaks) > 1 and max(peaks) / min(peaks) > _SHARED_AXIS_MAX_RATIO


def _chart_figure(result: QueryResult, chart: Chart) -> Figure:
    index = {name: i for i, (name, _) in enumerate(result.columns)}
    rows = result.rows
    title = chart.title
    if not rows:
        return _message_figure(title, "No rows", "#57606a")
    limit = CHART_MAX_BUCKETS if chart.kind == "hist" else CHART_MAX_BARS
    if chart.kind in ("bar", "hist") and len(rows) > limit:
        title = f"{title} (first {limit} of {len(rows):,})"
        rows = rows[:limit]
    x_values = [row[index[chart.x]] for row in rows]
    series = [[_number(row[index[y]]) for row in rows] for y in chart.y]
    if chart.kind == "line":
        return _line_figure(title, chart, x_values, series, dict(result.columns)[chart.x])
    return _bar_figure(title, chart, x_values, series)


def _bar_figure(title: str, chart: Chart, x_values: list[str | None], series: list[list[float | None]]) -> Figure:
    labels = [_short(x) for x in x_values]
    count = len(labels)
    hist = chart.kind == "hist"
    panels = _separate_scales(series)
    # Categories with long names read best as horizontal bars; buckets stay vertical, in order.
    horizontal = not hist and (count > 8 or max(len(label) for label in labels) > 12 or panels)
    height = max(CHART_SIZE[1], min(0.26 * count + 1.3, 7.5)) if horizontal else CHART_SIZE[1]
    figure = _new_figure(height)
    if panels:
        shape = (1, len(series)) if horizontal else (len(series), 1)
        axes = list(figure.subplots(*shape, sharey=horizontal, sharex=not horizontal, squeeze=False).flat)
        figure.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
    else:
        axes = [figure.add_subplot()]
        axes[0].set_title(title)
    grouped = 1 if panels else len(series)
    width = (0.9 if hist else 0.8) / grouped
    for number, (column, values) in enumerate(zip(chart.y, series, strict=True)):
        ax = axes[number] if panels else axes[0]
        offset = 0.0 if panels else (number - (grouped - 1) / 2) * width
        points = [(i + offset, v) for i, v in enumerate(values) if v is not None]
        positions = [p for p, _ in points]
        heights = [v for _, v in points]
        color = _COLORS[number % len(_COLORS)]
        draw = ax.barh if horizontal else ax.bar
        bars = draw(positions, heights, width, label=_label(column), color=color, edgecolor="white", linewidth=0.5)
        if grouped == 1 and not hist and count <= CHART_MAX_BARS:
            ax.bar_label(bars, labels=[_format_number(v) for v in heights], padding=2, fontsize=7, color="#57606a")
        value_axis = ax.xaxis if horizontal else ax.yaxis
        _thousands(value_axis, heights)
        ax.grid(axis="x" if horizontal else "y")
        ax.set_axisbelow(True)
        if panels:
            ax.set_title(_label(column), fontsize=9, loc="left")
        if grouped == 1 and not hist:  # room for the value labels at the bars' ends
            if horizontal:
                ax.margins(x=0.15)
            else:
                ax.margins(y=0.1)
    for ax in axes:
        if horizontal:
            ax.set_yticks(range(count), labels)
            ax.margins(y=0.01)
        else:
            _category_ticks(ax, labels)
    if horizontal:
        axes[0].invert_yaxis()  # the first row (e.g. the top product) on top
    last = axes[-1]
    if not panels and len(series) > 1:
        axes[0].legend(loc="best")
    elif not panels:
        (last.set_xlabel if horizontal else last.set_ylabel)(_label(chart.y[0]))
    if not horizontal:
        last.set_xlabel(_label(chart.x))
    return figure


def _format_number(value: float) -> str:
    if value.is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3g}"


def _category_ticks(ax: Axes, labels: list[str]) -> None:
    """Category labels under vertical bars: every label, thinned and slanted when they would collide."""
    count = len(labels)
    step = max(1, math.ceil(count / 24))
    positions = list(range(0, count, step))
    # Slant the labels when the longest would not fit, level, in the space of one shown label.
    room = (CHART_SIZE[0] - 0.8) * step / count
    slant = max(len(label) for label in labels) * _CHAR_INCHES * 9 / 8 + 0.1 > room
    ax.set_xticks(
        positions, [labels[i] for i in positions], rotation=35 if slant else 0, ha="right" if slant else "center"
    )
    ax.set_xlim(-0.6, count - 0.4)


def _time_value(text: str) -> datetime | None:
    """Athena date/timestamp text (``2026-05-09 13:00:00.000``, optionally `` UTC``) as a naive UTC datetime."""
    candidate = text.strip().removesuffix(" UTC").removesuffix("Z")
    try:
        return datetime.fromisoformat(candidate).replace(tzinfo=None)
    except ValueError:
        return None


def _line_figure(
    title: str, chart: Chart, x_values: list[str | None], series: list[list[float | None]], x_type: str
) -> Figure:
    numbers = [_number(x) for x in x_values]
    times = [_time_value(x) if x is not None else None for x in x_values]
    present = [x for x in x_values if x is not None]
    x_kind = "category"
    xs: list[Any] = list(range(len(x_values)))
    if present and all(n is not None for x, n in zip(x_values, numbers, strict=True) if x is not None):
        x_kind, xs = "number", numbers
    elif present and all(t is not None for x, t in zip(x_values, times, strict=True) if x is not None):
        x_kind, xs = "time", times
    if x_kind == "time":
        import matplotlib.dates  # noqa: F401  (registers the datetime unit converter)
    panels = _separate_scales(series)
    count = len(series) if panels else 1
    figure = _new_figure(CHART_SIZE[1] if count == 1 else min(1.6 * count + 0.8, 7.5))
    axes = list(figure.subplots(count, 1, sharex=True, squeeze=False).flat)
    if panels:
        figure.suptitle(title, x=0.01, ha="left", fontsize=11, fontweight="bold")
    else:
        axes[0].set_title(title)
    for number, (column, values) in enumerate(zip(chart.y, series, strict=True)):
        ax = axes[number] if panels else axes[0]
        points = [(x, v) for x, v in zip(xs, values, strict=True) if x is not None and v is not None]
        marker = "o" if len(points) <= 48 else None
        ax.plot(
            [x for x, _ in points],
            [v for _, v in points],
            marker=marker,
            markersize=3,
            linewidth=1.6,
            color=_COLORS[number % len(_COLORS)],
            label=_label(column),
        )
        _thousands(ax.yaxis, [v for _, v in points])
        ax.grid(axis="y")
        ax.set_axisbelow(True)
        if panels:
            ax.set_ylabel(_label(column))
    last = axes[-1]
    x_label = _label(chart.x)
    if x_kind == "time":
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, DateFormatter

        locator = AutoDateLocator(minticks=4, maxticks=12)
        last.xaxis.set_major_locator(locator)
        days = {x.date() for x in xs if x is not None}
        if len({x for x in xs if x is not None}) == 1:  # one point: its time, not a locator's guesses
            (only,) = {x for x in xs if x is not None}
            last.set_xticks([only], [only.strftime("%Y-%m-%d %H:%M")])
        elif len(days) == 1:  # one day's hours: the times on the axis, the day once in its label
            last.xaxis.set_major_formatter(DateFormatter("%H:%M"))
            x_label = f"{x_label} ({days.pop().isoformat()}, UTC)"
        else:
            last.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        last.margins(x=0.02)  # no tick at midnight of the next day, past the data
    elif x_kind == "number" and _base_type(x_type) in _INT_TYPES:
        from matplotlib.ticker import MaxNLocator

        last.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=12))
    elif x_kind == "category":
        _category_ticks(last, [_short(x) for x in x_values])
    if not panels:
        if len(series) > 1:
            axes[0].legend(loc="best")
        else:
            axes[0].set_ylabel(_label(chart.y[0]))
    last.set_xlabel(x_label)
    return figure


def _message_figure(title: str, message: str, color: str) -> Figure:
    figure = _new_figure(1.2)
    figure.set_layout_engine("none")
    _figure_text(figure, 0.15, 0.15, _short(title, 80), fontsize=11, fontweight="bold")
    _figure_text(figure, 0.15, 0.5, message, fontsize=15, fontweight="bold", color=color)
    return figure


def _figure_text(figure: Figure, x: float, y_from_top: float, text: str, **style: Any) -> None:
    """Text placed in inches from the figure's top-left corner (the text's top-left, unless ``ha`` says)."""
    style.setdefault("va", "top")
    figure.text(x, figure.get_figheight() - y_from_top, text, transform=figure.dpi_scale_trans, **style)


# Width of one character of 8 pt DejaVu Sans, and the height of a table row, in inches.
_CHAR_INCHES = 0.068
_ROW_INCHES = 0.24


def _text_figure(result: QueryResult) -> Figure:
    """A query without a chart: its status (checks), its numbers (one row) or its first rows, as a picture."""
    if result.kind == "check" and not result.rows:
        return _message_figure(result.title, "PASS \u00b7 no findings", "#1a7f37")
    if result.kind == "report" and not result.rows:
        return _message_figure(result.title, "No rows", "#57606a")
    if result.kind == "report" and len(result.rows) == 1 and len(result.columns) <= 8:
        return _stats_figure(result)
    rows = result.rows[: 5 if result.kind == "check" else 8]
    # Columns, each as wide as its widest text, as many as fit across the figure.
    usable = CHART_SIZE[0] - 0.3
    columns: list[tuple[str, bool, list[str], float]] = []
    for index, (name, athena_type) in enumerate(result.columns):
        texts = [_short(format_value(row[index], athena_type, name), 24) for row in rows]
        header = _short(name, 24)
        width = max(len(header), *(len(text) for text in texts)) * _CHAR_INCHES + 0.3
        if sum(column[3] for column in columns) + width > usable:
            break
        columns.append((header, _is_numeric_type(athena_type), texts, width))
    table_top = 0.85
    more = []
    if len(result.rows) > len(rows):
        more.append(f"first {len(rows)} of {len(result.rows):,} rows")
    if len(result.columns) > len(columns):
        more.append(f"first {len(columns)} of {len(result.columns)} columns")
    height = table_top + _ROW_INCHES * (len(rows) + 1) + (0.4 if more else 0.15)
    figure = _new_figure(height)
    figure.set_layout_engine("none")
    _figure_text(figure, 0.15, 0.15, _short(result.title, 80), fontsize=11, fontweight="bold")
    if result.kind == "check":
        status = f"FINDINGS \u00b7 {_plural(result.findings, 'row')}"
        _figure_text(figure, 0.15, 0.42, status, fontsize=13, fontweight="bold", color="#cf222e")
    else:
        _figure_text(figure, 0.15, 0.45, _plural(len(result.rows), "row"), fontsize=9, color="#57606a")
    from matplotlib.lines import Line2D

    right_edge = 0.15 + sum(column[3] for column in columns)
    for line_number in range(1, len(rows) + 2):  # a rule under the header (darker) and under each row
        y = height - table_top - line_number * _ROW_INCHES
        color = "#8c959f" if line_number == 1 else "#d0d7de"
        figure.add_artist(
            Line2D([0.15, right_edge], [y, y], transform=figure.dpi_scale_trans, color=color, linewidth=0.6)
        )
    x = 0.15
    for header, numeric, texts, width in columns:
        text_x = x + width - 0.15 if numeric else x + 0.08
        align = "right" if numeric else "left"
        for line_number, text in enumerate([header, *texts]):
            y_from_top = table_top + (line_number + 0.5) * _ROW_INCHES
            weight = "bold" if line_number == 0 else "normal"
            color = "#57606a" if text == NULL_TEXT and line_number else "#1f2328"
            _figure_text(
                figure, text_x, y_from_top, text, fontsize=8, ha=align, va="center", fontweight=weight, color=color
            )
        x += width
    if more:
        note = "Showing " + ", ".join(more) + f"; the full result is in {result.name}.csv"
        _figure_text(figure, 0.15, height - 0.3, note, fontsize=8, color="#57606a")
    return figure


def _stats_figure(result: QueryResult) -> Figure:
    """A single-row result (the headline): each value large, under its column's label, four to a line."""
    types = dict(result.columns)
    stats = [
        (_short(_label(name), 26), _short(format_value(value, types[name], name), 18))
        for (name, _), value in zip(result.columns, result.rows[0], strict=True)
    ]
    per_line = min(4, len(stats))
    cell = (CHART_SIZE[0] - 0.3) / per_line
    longest = max(len(value) for _, value in stats)
    # Bold digits are about 0.62 em wide: the largest size (at most 20 pt) at which the longest value fits.
    fontsize = max(9.0, min(20.0, (cell - 0.25) * 72 / (0.68 * longest)))
    lines = math.ceil(len(stats) / per_line)
    height = 0.55 + lines * 0.95
    figure = _new_figure(height)
    figure.set_layout_engine("none")
    _figure_text(figure, 0.15, 0.15, _short(result.title, 80), fontsize=11, fontweight="bold")
    for number, (label, value) in enumerate(stats):
        line, column = divmod(number, per_line)
        x = 0.15 + column * cell
        top = 0.55 + line * 0.95
        _figure_text(figure, x, top, label, fontsize=9, color="#57606a")
        _figure_text(figure, x, top + 0.22, value, fontsize=fontsize, fontweight="bold", color="#1f2328")
    return figure


# --- HTML and Markdown ----------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _templates() -> jinja2.Environment:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        # report.html.j2 is escaped everywhere; report.md.j2 escapes with its own `md` filter.
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["md"] = markdown_escape
    return environment


_MD_SPECIAL = re.compile(r"[\\`*\[\]<>|~&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def markdown_escape(value: object) -> str:
    """Text that reads as itself in Markdown, also inside a table cell (``|`` escaped, one line)."""
    text = " ".join(str(value).splitlines())
    return _MD_SPECIAL.sub(lambda match: "\\" + match.group(0), text)


def _github_anchor(heading: str) -> str:
    """The id GitHub gives a Markdown heading, for links from the banner to a check."""
    return re.sub(r"\s", "-", re.sub(r"[^\w\- ]", "", heading.lower()))


def _table_view(result: QueryResult, limit: int) -> dict[str, Any]:
    numeric = [_is_numeric_type(t) for _, t in result.columns]
    rows = [
        [
            {"text": format_value(value, athena_type, name), "null": value is None, "numeric": is_number}
            for (name, athena_type), value, is_number in zip(result.columns, row, numeric, strict=True)
        ]
        for row in result.rows[:limit]
    ]
    omitted = max(0, len(result.rows) - limit)
    return {
        "columns": [
            {"name": name, "type": athena_type, "numeric": is_number}
            for (name, athena_type), is_number in zip(result.columns, numeric, strict=True)
        ],
        "rows": rows,
        "shown": len(rows),
        "total": len(result.rows),
        "total_text": f"{len(result.rows):,}",
        "omitted": omitted,
        "omitted_text": f"{omitted:,}",
        "csv": f"{result.name}.csv",
    }


def _context(
    report_date: str, env: str, results: list[QueryResult], generated_at: str, pngs: dict[str, bytes]
) -> dict[str, Any]:
    headline: dict[str, Any] | None = None
    reports: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []
    for result in results:
        if result.name == HEADLINE_QUERY and result.kind == "report":
            stats = []
            if result.rows:
                stats = [
                    {"column": name, "label": _label(name), "value": format_value(value, athena_type, name)}
                    for (name, athena_type), value in zip(result.columns, result.rows[0], strict=True)
                ]
            note = (
                f"The headline query returned {len(result.rows):,} rows; the first is shown."
                if len(result.rows) > 1
                else ""
            )
            headline = {"name": result.name, "title": result.title, "stats": stats, "note": note}
        elif result.kind == "report":
            chart = None
            if result.chart is not None and result.chart.kind != "none":
                png = pngs[result.name]
                width, height = png_size(png)
                chart = {
                    "title": result.chart.title,
                    "file": f"{result.name}.png",
                    "png_base64": base64.b64encode(png).decode("ascii"),
                    "width": width,
                    "height": height,
                }
            reports.append(
                {
                    "name": result.name,
                    "title": result.title,
                    "description": result.description,
                    "chart": chart,
                    "table": _table_view(result, REPORT_TABLE_ROWS),
                }
            )
        else:
            heading = f"{'FINDINGS' if result.findings else 'PASS'}: {result.title}"
            checks.append(
                {
                    "name": result.name,
                    "title": result.title,
                    "description": result.description,
                    "findings": result.findings,
                    "findings_text": _plural(result.findings, "finding") if result.findings else "no findings",
                    "anchor": _github_anchor(heading),
                    "table": _table_view(result, CHECK_TABLE_ROWS),
                }
            )
    queries = [
        {
            "name": result.name,
            "kind": result.kind,
            "rows_text": f"{len(result.rows):,}",
            "query_execution_id": result.query_execution_id,
            "engine_text": f"{result.engine_ms:,} ms",
            "scanned_text": format_bytes(result.data_scanned_bytes),
            "scanned_bytes_text": f"{result.data_scanned_bytes:,}",
        }
        for result in results
    ]
    total_scanned = sum(result.data_scanned_bytes for result in results)
    return {
        "report_date": report_date,
        "env": env,
        "generated_at": generated_at,
        "headline": headline,
        "reports": reports,
        "checks": checks,
        "failed_checks": [check for check in checks if check["findings"]],
        "queries": queries,
        "total_engine_text": f"{sum(result.engine_ms for result in results):,} ms",
        "total_scanned_text": format_bytes(total_scanned),
        "total_scanned_bytes_text": f"{total_scanned:,}",
    }


def render_report(report_date: str, env: str, results: list[QueryResult], generated_at: str) -> dict[str, bytes]:
    """Every file of the report, by file name: report.html, report.md, and per query <name>.csv and <name>.png."""
    names = [result.name for result in results]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"query names must be unique (they name the report's files); repeated: {duplicates}")
    files: dict[str, bytes] = {}
    pngs: dict[str, bytes] = {}
    for result in results:
        files[f"{result.name}.csv"] = render_csv(result)
        pngs[result.name] = files[f"{result.name}.png"] = render_png(result)
    context = _context(report_date, env, results, generated_at, pngs)
    templates = _templates()
    files["report.html"] = templates.get_template("report.html.j2").render(context).encode("utf-8")
    files["report.md"] = templates.get_template("report.md.j2").render(context).encode("utf-8")
    return files


# --- what the task returns and logs ---------------------------------------------------------------------


def summary(report_date: str, results: list[QueryResult]) -> dict[str, Any]:
    """A small JSON-able dict for XCom: the headline numbers, check findings and what each query cost.

    ``headline`` is the first row of the query named ``headline`` as {column: value} with values parsed by
    type (see ``parse_value``: decimals stay exact strings), ``{}`` when there is no such query or row.
    """
    headline: dict[str, Any] = {}
    for result in results:
        if result.name == HEADLINE_QUERY and result.rows:
            headline = {
                name: parse_value(value, athena_type)
                for (name, athena_type), value in zip(result.columns, result.rows[0], strict=True)
            }
            break
    checks = {result.name: result.findings for result in results if result.kind == "check"}
    return {
        "report_date": report_date,
        "headline": headline,
        "checks": checks,
        "failed_checks": [name for name, findings in checks.items() if findings],
        "queries": {
            result.name: {
                "kind": result.kind,
                "rows": len(result.rows),
                "query_execution_id": result.query_execution_id,
                "engine_ms": result.engine_ms,
                "data_scanned_bytes": result.data_scanned_bytes,
            }
            for result in results
        },
        "total_data_scanned_bytes": sum(result.data_scanned_bytes for result in results),
    }


def summary_table(results: list[QueryResult]) -> str:
    """A plain-text table for the task log: per query its kind, rows, findings, engine ms and data scanned."""
    header = ("query", "kind", "rows", "findings", "engine ms", "scanned")
    lines = [
        (
            result.name,
            result.kind,
            f"{len(result.rows):,}",
            (f"{result.findings:,} FAIL" if result.findings else "0 ok") if result.kind == "check" else "-",
            f"{result.engine_ms:,}",
            format_bytes(result.data_scanned_bytes),
        )
        for result in results
    ]
    total = (
        "total",
        "",
        "",
        f"{sum(1 for r in results if r.findings):,} failed" if any(r.kind == "check" for r in results) else "",
        f"{sum(r.engine_ms for r in results):,}",
        format_bytes(sum(r.data_scanned_bytes for r in results)),
    )
    table = [header, *lines, total]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    right = (False, False, True, True, True, True)

    def line(row: tuple[str, ...]) -> str:
        cells = [cell.rjust(w) if r else cell.ljust(w) for cell, w, r in zip(row, widths, right, strict=True)]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(row) for row in lines), rule, line(total)])
