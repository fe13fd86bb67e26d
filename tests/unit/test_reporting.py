"""The daily report's files, rendered from realistic Athena results: what an analyst opens and the DAG returns."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sales_pipeline.reporting import (
    Chart,
    QueryResult,
    format_value,
    parse_value,
    png_size,
    render_png,
    render_report,
    summary,
    summary_table,
)

REPO = Path(__file__).resolve().parents[2]
REPORT_DATE = "2026-05-09"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SCRIPT = "<script>alert(1)</script>"


def _query(name: str, kind: str, title: str, columns, rows, *, chart=None, engine_ms=850, scanned=1_572_864):
    return QueryResult(
        name=name,
        kind=kind,
        title=title,
        description=f"What {title.lower()} answers.",
        columns=columns,
        rows=rows,
        query_execution_id=f"0b6c1f2e-{len(name):04d}-4d1e-9a3b-{name[:12].ljust(12, '0')}",
        engine_ms=engine_ms,
        data_scanned_bytes=scanned,
        chart=chart,
    )


def headline() -> QueryResult:
    return _query(
        "headline",
        "report",
        "Headline",
        [("live_orders", "bigint"), ("units", "bigint"), ("revenue", "decimal(18,2)"), ("avg_order_value", "double")],
        [["12345", "40210", "1234567.50", "100.00567"]],
        engine_ms=1200,
        scanned=52_428_800,
    )


def revenue_by_product() -> QueryResult:
    return _query(
        "revenue_by_product",
        "report",
        "Revenue by product",
        [("product_name", "varchar"), ("orders", "bigint"), ("revenue", "decimal(18,2)")],
        [
            ["Widget", "5210", "521000.00"],
            ["Gizmo, large", "3100", "310000.50"],
            [SCRIPT, "12", "120.00"],
            ["Left|Right", "9", "90.00"],
            [None, "3", None],
        ],
        chart=Chart("bar", "product_name", ("revenue",), "Revenue by product"),
    )


def orders_by_hour() -> QueryResult:
    rows: list[list[str | None]] = [
        [f"{REPORT_DATE} {hour:02d}:00:00.000", str(100 + hour), str(250 + 3 * hour), f"{9000 + 75.5 * hour:.2f}"]
        for hour in range(24)
    ]
    rows[5][3] = None  # an hour without revenue: a gap in the chart, an em dash in the table
    return _query(
        "orders_by_hour",
        "report",
        "Orders by hour",
        [("hour", "timestamp(3)"), ("orders", "bigint"), ("units", "bigint"), ("revenue", "decimal(18,2)")],
        rows,
        chart=Chart("line", "hour", ("orders", "units", "revenue"), "Orders, units and revenue by hour"),
    )


def order_value_distribution() -> QueryResult:
    return _query(
        "order_value_distribution",
        "report",
        "Order value distribution",
        [("bucket", "varchar"), ("orders", "bigint")],
        [
            [f"{low}-{low + 25}", str(count)]
            for low, count in zip(range(0, 250, 25), (40, 90, 160, 220, 180, 120, 60, 30, 12, 5), strict=True)
        ],
        chart=Chart("hist", "bucket", ("orders",), "Orders by order value (EUR)"),
    )


def orders_by_customer() -> QueryResult:
    """A long result without a chart: the page shows its first 50 rows."""
    return _query(
        "orders_by_customer",
        "report",
        "Orders by customer",
        [("customer_id", "varchar"), ("orders", "bigint")],
        [[f"customer-{i:03d}", str(200 - i)] for i in range(73)],
    )


def duplicate_deliveries() -> QueryResult:
    return _query(
        "check_duplicate_deliveries",
        "check",
        "Duplicate deliveries",
        [("orderid", "varchar"), ("copies", "bigint"), ("first_seen", "timestamp(3)")],
        [["order-0042", "3", f"{REPORT_DATE} 10:15:00.123"], ["order-0077", "2", None]],
        scanned=734_003_200,
    )


def negative_quantities() -> QueryResult:
    return _query(
        "check_negative_quantity",
        "check",
        "Negative quantities",
        [("orderid", "varchar"), ("quantity", "integer")],
        [],
        scanned=512,
    )


def all_results() -> list[QueryResult]:
    return [
        headline(),
        revenue_by_product(),
        orders_by_hour(),
        order_value_distribution(),
        orders_by_customer(),
        duplicate_deliveries(),
        negative_quantities(),
    ]


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return render_report(REPORT_DATE, "dev", all_results(), "2026-05-10T02:00:00Z")


@pytest.fixture(scope="module")
def html(files: dict[str, bytes]) -> str:
    return files["report.html"].decode("utf-8")


@pytest.fixture(scope="module")
def markdown(files: dict[str, bytes]) -> str:
    return files["report.md"].decode("utf-8")


def _section(html: str, name: str) -> str:
    match = re.search(rf'<(section|div) id="q-{name}">(.*?)</\1>\s*(?=<section|<div id="q-|</section>)', html, re.S)
    assert match, f"no section for {name}"
    return match.group(2)


# --- the files --------------------------------------------------------------------------------------------


def test_every_file_of_the_report_is_rendered(files: dict[str, bytes]) -> None:
    names = [result.name for result in all_results()]
    expected = {"report.html", "report.md"} | {f"{n}.csv" for n in names} | {f"{n}.png" for n in names}
    assert set(files) == expected
    assert all(isinstance(content, bytes) and content for content in files.values())


def test_rendering_is_deterministic(files: dict[str, bytes]) -> None:
    """The same results give the same bytes: a re-run rewrites identical objects."""
    assert render_png(orders_by_hour()) == files["orders_by_hour.png"]
    assert render_png(duplicate_deliveries()) == files["check_duplicate_deliveries.png"]
    again = render_report(REPORT_DATE, "dev", [headline()], "2026-05-10T02:00:00Z")
    assert (
        again["report.html"] == render_report(REPORT_DATE, "dev", [headline()], "2026-05-10T02:00:00Z")["report.html"]
    )


# --- report.html ------------------------------------------------------------------------------------------


def test_html_is_one_self_contained_page(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    assert 'src="http' not in html and "<link" not in html and "@import" not in html and "url(" not in html
    assert "<script" not in html  # no JS at all (and the product named <script> is escaped)
    sources = re.findall(r'<img [^>]*src="([^"]+)"', html)
    # One chart per report query that has one: by product, by hour, the distribution.
    assert len(sources) == 3
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(PNG_MAGIC)


def test_html_title_names_env_and_date(html: str) -> None:
    title = re.search(r"<title>(.*?)</title>", html, re.S)
    assert title and "dev" in title.group(1) and REPORT_DATE in title.group(1)
    assert "<h1>Daily sales report &middot; 2026-05-09</h1>" in html


def test_html_shows_the_headline_numbers_formatted(html: str) -> None:
    cards = re.search(r'<div class="headline" id="q-headline"[^>]*>(.*?)\n</div>', html, re.S)
    assert cards
    values = re.findall(r'<div class="stat-value">(.*?)</div>', cards.group(1))
    labels = re.findall(r'<div class="stat-label"[^>]*>(.*?)</div>', cards.group(1))
    assert labels == ["Live orders", "Units", "Revenue", "Avg order value"]
    assert values == ["12,345", "40,210", "1,234,567.50", "100.01"]
    # The headline comes before the first report section.
    assert html.index('id="q-headline"') < html.index('id="q-revenue_by_product"')


def test_html_has_a_section_per_report_with_description_chart_and_table(html: str) -> None:
    section = _section(html, "revenue_by_product")
    assert "<h2>Revenue by product</h2>" in section
    assert "What revenue by product answers." in section
    assert 'src="data:image/png;base64,' in section
    assert '<td class="num">521,000.00</td>' in section and '<td class="num">5,210</td>' in section
    assert section.count('<td class="null">\u2014</td>') == 2  # NULL product name and NULL revenue


def test_html_escapes_every_value(html: str) -> None:
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    page = render_report(REPORT_DATE, "<b>dev</b>", [headline()], "now").get("report.html", b"").decode()
    assert "<b>dev</b>" not in page and "&lt;b&gt;dev&lt;/b&gt;" in page


def test_html_long_results_show_the_first_50_rows_and_say_how_many_are_omitted(html: str) -> None:
    section = _section(html, "orders_by_customer")
    assert section.count("<tr><td>customer-") == 50
    assert "customer-049" in section and "customer-050" not in section
    assert "Showing the first 50 of 73 rows; 23 omitted." in section
    assert 'href="orders_by_customer.csv"' in section


def test_html_findings_banner_at_the_top_when_a_check_fails(html: str) -> None:
    banner = re.search(r'<div class="banner banner-findings"[^>]*>(.*?)</div>', html, re.S)
    assert banner, "a failing check must raise the banner"
    assert html.index("banner-findings") < html.index('id="q-headline"')
    assert "1 of 2 checks found problems" in banner.group(1)
    assert '<a href="#q-check_duplicate_deliveries">Duplicate deliveries</a>: 2 findings' in banner.group(1)


def test_html_no_findings_banner_when_every_check_passes() -> None:
    page = render_report(REPORT_DATE, "dev", [headline(), negative_quantities()], "now")["report.html"].decode()
    assert 'class="banner banner-findings"' not in page and 'class="badge badge-findings"' not in page
    assert "All 1 data-quality check passed." in page


def test_html_data_quality_section_badges_counts_and_finding_rows(html: str) -> None:
    failing = _section(html, "check_duplicate_deliveries")
    assert '<span class="badge badge-findings">FINDINGS</span>Duplicate deliveries' in failing
    assert "2 findings" in failing
    assert "<td>order-0042</td>" in failing and "<td>order-0077</td>" in failing
    assert '<td class="null">\u2014</td>' in failing
    passing = _section(html, "check_negative_quantity")
    assert '<span class="badge badge-pass">PASS</span>Negative quantities' in passing
    assert "no findings" in passing and "<table>" not in passing
    assert html.index('id="data-quality"') > html.index('id="q-orders_by_customer"')


def test_html_lists_every_query_with_its_execution_id_run_time_and_data_scanned(html: str) -> None:
    queries = html[html.index('<section id="queries">') :]
    for result in all_results():
        row = re.search(rf'<tr><td><a href="#q-{result.name}">.*?</tr>', queries)
        assert row, result.name
        assert f"<code>{result.query_execution_id}</code>" in row.group(0)
        assert f"{result.engine_ms:,} ms" in row.group(0)
    assert ">1.5 MiB<" in queries and ">700.0 MiB<" in queries and ">512 B<" in queries and ">50.0 MiB<" in queries


# --- report.md --------------------------------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    """The cells of a GitHub pipe-table line: split on | not escaped by a backslash."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def test_markdown_has_the_same_content_as_pipe_tables(markdown: str) -> None:
    assert markdown.startswith("# Daily sales report \u00b7 2026-05-09\n")
    assert "Environment **dev**" in markdown
    assert "> **Data quality: 1 of 2 checks found problems.**" in markdown
    assert "| **12,345** | **40,210** | **1,234,567.50** | **100.01** |" in markdown
    assert "![Revenue by product](revenue_by_product.png)" in markdown
    assert "![Orders, units and revenue by hour](orders_by_hour.png)" in markdown
    assert "## Data quality" in markdown and "### FINDINGS: Duplicate deliveries" in markdown
    assert "### PASS: Negative quantities" in markdown
    assert "_Showing the first 50 of 73 rows; 23 omitted." in markdown
    assert "`0b6c1f2e-0008-4d1e-9a3b-headline0000`" in markdown


def test_markdown_escapes_pipes_and_html_and_keeps_tables_rectangular(markdown: str) -> None:
    assert "| Left\\|Right | 9 | 90.00 |" in markdown
    assert "| \\<script\\>alert(1)\\</script\\> | 12 | 120.00 |" in markdown
    assert SCRIPT not in markdown
    tables = re.findall(r"((?:^\|.*\|\n)+)", markdown, re.M)
    assert len(tables) >= 7
    for table in tables:
        widths = {len(_cells(line)) for line in table.splitlines()}
        assert len(widths) == 1, table


# --- CSV --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [revenue_by_product, duplicate_deliveries, negative_quantities, orders_by_hour])
def test_csv_round_trips_with_csv_reader(files: dict[str, bytes], make) -> None:
    result = make()
    content = files[f"{result.name}.csv"].decode("utf-8")
    assert content.endswith("\r\n")  # RFC 4180 line breaks
    parsed = list(csv.reader(io.StringIO(content, newline="")))
    assert parsed[0] == [name for name, _ in result.columns]
    assert parsed[1:] == [["" if value is None else value for value in row] for row in result.rows]


def test_csv_quotes_commas_and_leaves_null_empty(files: dict[str, bytes]) -> None:
    lines = files["revenue_by_product.csv"].decode("utf-8").split("\r\n")
    assert '"Gizmo, large",3100,310000.50' in lines
    assert ",3," in lines  # NULL product and NULL revenue: empty fields


# --- PNG --------------------------------------------------------------------------------------------------


def test_every_query_has_a_valid_png(files: dict[str, bytes]) -> None:
    import matplotlib.image

    for result in all_results():
        png = files[f"{result.name}.png"]
        assert png.startswith(PNG_MAGIC), result.name
        width, height = png_size(png)
        assert width == 700 and 100 <= height <= 750, (result.name, width, height)
        pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
        assert pixels.shape[:2] == (height, width)
        assert pixels.min() < 0.5, f"{result.name}.png is blank"


def test_png_carries_no_software_version(files: dict[str, bytes]) -> None:
    assert b"matplotlib" not in files["revenue_by_product.png"]
    assert b"Software" not in files["headline.png"]


def test_a_chart_with_only_null_values_or_no_rows_still_renders() -> None:
    columns = [("product_name", "varchar"), ("revenue", "decimal(18,2)")]
    chart = Chart("bar", "product_name", ("revenue",), "Revenue")
    for rows in ([["a", None], ["b", "NaN"]], []):
        png = render_png(_query("empty", "report", "Empty", columns, rows, chart=chart))
        assert png.startswith(PNG_MAGIC)


# --- summary and summary_table ----------------------------------------------------------------------------


def test_summary_for_xcom() -> None:
    results = all_results()
    got = summary(REPORT_DATE, results)
    assert json.loads(json.dumps(got)) == got
    assert got["report_date"] == REPORT_DATE
    assert got["headline"] == {
        "live_orders": 12345,
        "units": 40210,
        "revenue": "1234567.50",
        "avg_order_value": 100.00567,
    }
    assert type(got["headline"]["live_orders"]) is int
    assert type(got["headline"]["avg_order_value"]) is float
    assert got["checks"] == {"check_duplicate_deliveries": 2, "check_negative_quantity": 0}
    assert got["failed_checks"] == ["check_duplicate_deliveries"]
    assert list(got["queries"]) == [result.name for result in results]
    assert got["queries"]["check_duplicate_deliveries"]["engine_ms"] == 850
    assert got["queries"]["check_duplicate_deliveries"]["data_scanned_bytes"] == 734_003_200
    assert got["total_data_scanned_bytes"] == sum(result.data_scanned_bytes for result in results)


def test_summary_without_a_headline_query() -> None:
    got = summary(REPORT_DATE, [negative_quantities()])
    assert got["headline"] == {} and got["failed_checks"] == []


def test_summary_table_lists_every_query() -> None:
    results = all_results()
    table = summary_table(results)
    lines = table.splitlines()
    assert lines[0].split() == ["query", "kind", "rows", "findings", "engine", "ms", "scanned"]
    for result in results:
        (line,) = [line for line in lines if line.startswith(result.name + " ")]
        assert result.kind in line and format(result.engine_ms, ",") in line
    assert re.search(r"check_duplicate_deliveries\s+check\s+2\s+2 FAIL\s+850\s+700\.0 MiB", table)
    assert re.search(r"check_negative_quantity\s+check\s+0\s+0 ok\s+850\s+512 B", table)
    assert lines[-1].startswith("total") and "1 failed" in lines[-1]


# --- values and validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "athena_type", "expected"),
    [
        ("42", "bigint", 42),
        ("-7", "integer", -7),
        ("2.5", "double", 2.5),
        ("1.0E10", "double", 1e10),
        ("NaN", "double", None),
        ("1234.50", "decimal(18,2)", "1234.50"),
        ("true", "boolean", True),
        ("2026-05-09", "date", "2026-05-09"),
        ("not a number", "bigint", "not a number"),
        (None, "bigint", None),
    ],
)
def test_parse_value(text, athena_type, expected) -> None:
    got = parse_value(text, athena_type)
    assert got == expected or (expected is None and got is None)
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("text", "athena_type", "column", "expected"),
    [
        ("1234567", "bigint", "units", "1,234,567"),
        ("2026", "integer", "year", "2026"),
        ("1234.5", "decimal(18,1)", "revenue", "1,234.50"),
        ("0.1234", "decimal(10,4)", "share", "0.1234"),
        ("99.999", "double", "avg_order_value", "100.00"),
        ("0.000123", "double", "ratio", "0.000123"),
        ("Infinity", "double", "ratio", "Infinity"),
        (None, "varchar", "product_name", "\u2014"),
        ("a|b", "varchar", "product_name", "a|b"),
    ],
)
def test_format_value(text, athena_type, column, expected) -> None:
    assert format_value(text, athena_type, column) == expected


def test_findings_count_rows_of_checks_only() -> None:
    assert duplicate_deliveries().findings == 2
    assert negative_quantities().findings == 0
    assert revenue_by_product().findings == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "../escape"}, "query name"),
        ({"kind": "dashboard"}, "kind must be"),
        ({"rows": [["only one value"]]}, "row 1 has 1 values for 3 columns"),
        ({"chart": Chart("bar", "product", ("revenue",), "t")}, "unknown column"),
    ],
)
def test_query_result_refuses_what_cannot_be_rendered(change, message) -> None:
    fields = {**revenue_by_product().__dict__, **change}
    with pytest.raises(ValueError, match=re.escape(message)):
        QueryResult(**fields)


def test_chart_refuses_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match=r"Chart\.kind"):
        Chart("pie", "x", ("y",), "t")


def test_render_report_refuses_repeated_query_names() -> None:
    with pytest.raises(ValueError, match="repeated"):
        render_report(REPORT_DATE, "dev", [negative_quantities(), negative_quantities()], "now")


def test_importing_the_module_stays_light() -> None:
    """DAG files may import it at parse time: matplotlib and jinja2 load only when a report is rendered."""
    code = (
        "import sys, sales_pipeline.reporting; print(sorted(m for m in ('matplotlib', 'jinja2') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip() == "[]"
