"""What a Glue crawler infers from JSON objects: types, widening, structs and arrays, names, partitions, globs."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import zipfile

import pytest

from localaws.glue_schema import (
    BUILT_IN,
    JsonPathError,
    TableSchema,
    compression_of,
    decompress,
    excluded,
    glob_regex,
    infer,
    merge,
    parse_json_path,
    partition_levels,
    partition_values,
    read_json,
    render,
    schema_of,
    table_name,
)


def column_types(*records: dict) -> dict[str, str]:
    return {c["Name"]: c["Type"] for c in schema_of(records).glue_columns()}


def ndjson(*records: object) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


@pytest.mark.parametrize(
    ("value", "glue_type"),
    [
        (7, "int"),
        (-(2**31), "int"),
        (2**31 - 1, "int"),
        (2**31, "bigint"),
        (1_764_151_200_000, "bigint"),  # epoch milliseconds
        (-(2**63), "bigint"),
        (2**63, "double"),  # beyond a bigint
        (1.5, "double"),
        (1e3, "double"),  # an exponent makes it a double even when whole
        (0.0, "double"),
        ("2026-11-26T10:00:00.000Z", "string"),  # ISO timestamps stay strings
        ("", "string"),
        (True, "boolean"),
        (False, "boolean"),
        (None, "string"),  # only ever null
        ([], "array<string>"),
        ([1, 2], "array<int>"),
        ([1, 2.5], "array<double>"),
        ([[1], [2**40]], "array<array<bigint>>"),
        ({"a": 1, "b": "x"}, "struct<a:int,b:string>"),
        ({"Outer": {"Inner": True}}, "struct<Outer:struct<Inner:boolean>>"),  # nested names keep their case
        ([{"sku": "a"}, {"sku": "b", "qty": 2}], "array<struct<sku:string,qty:int>>"),
        ({}, "string"),  # an object without members
    ],
)
def test_type_of_one_value(value: object, glue_type: str) -> None:
    assert render(infer(value)) == glue_type


@pytest.mark.parametrize(
    ("values", "glue_type"),
    [
        ([1, 2**40], "bigint"),
        ([1, 2.5], "double"),
        ([2**40, 0.5], "double"),
        ([None, 3], "int"),
        ([3, None], "int"),
        ([None, None], "string"),
        (["a", 1], "string"),  # incompatible scalars
        ([True, 1], "string"),
        ([{"a": 1}, 1], "string"),  # struct against a scalar
        ([[1], "x"], "string"),
        ([{"a": 1}, {"b": "x"}], "struct<a:int,b:string>"),  # struct members are merged
        ([{"a": 1}, {"a": 2.5, "c": [True]}], "struct<a:double,c:array<boolean>>"),
        ([[1], [None], ["x"]], "array<string>"),
        ([[], [1]], "array<int>"),
    ],
)
def test_types_widen_across_records(values: list[object], glue_type: str) -> None:
    assert column_types(*({"v": v} for v in values)) == {"v": glue_type}


def test_merge_is_order_independent_for_numbers() -> None:
    for a, b in [(1, 2.5), (2**40, 1), (None, 1.5)]:
        assert merge(infer(a), infer(b)) == merge(infer(b), infer(a))


def test_columns_are_lowercased_in_first_seen_order_and_paths_keep_the_keys_sorted() -> None:
    schema = schema_of(
        [
            {"orderid": "o1", "Quantity": 2, "price": 9.5},
            {"orderid": "o2", "quantity": 3, "event_time": "2026-11-26T10:00:00.000Z", "Coupon": None},
            {"orderid": "o3", "coupon": "XMAS", "price": 10},
        ]
    )
    assert schema.glue_columns() == [
        {"Name": "orderid", "Type": "string"},
        {"Name": "quantity", "Type": "int"},  # Quantity and quantity: one column
        {"Name": "price", "Type": "double"},
        {"Name": "event_time", "Type": "string"},
        {"Name": "coupon", "Type": "string"},
    ]
    # the OpenX SerDe maps each original key: every spelling, sorted, comma-joined
    assert schema.paths == "Coupon,Quantity,coupon,event_time,orderid,price,quantity"


def test_schemas_of_objects_merge_like_records() -> None:
    first, second = schema_of([{"a": 1, "b": "x"}]), schema_of([{"a": 2.5, "c": True}])
    merged = first.merge(second)
    assert merged.glue_columns() == [
        {"Name": "a", "Type": "double"},
        {"Name": "b", "Type": "string"},
        {"Name": "c", "Type": "boolean"},
    ]
    assert merged.paths == "a,b,c"
    assert first.glue_columns() == [{"Name": "a", "Type": "int"}, {"Name": "b", "Type": "string"}]  # unchanged


def test_sales_records_as_the_transform_lambda_writes_them() -> None:
    records: list[dict[str, object]] = [
        {
            "orderid": "o-1", "product_name": "Widget", "quantity": 2, "price": 19.99, "event_name": "INSERT",
            "is_deleted": False, "event_id": "e1", "sequence_number": "0" * 39 + "1",
            "event_time": "2026-11-26T10:00:00.123Z",
        },
        {
            "orderid": "o-2", "product_name": None, "quantity": None, "price": 20, "event_name": "REMOVE",
            "is_deleted": True, "event_id": "e2", "sequence_number": "0" * 39 + "2",
            "event_time": "2026-11-26T10:00:01.000Z",
        },
    ]  # fmt: skip
    assert column_types(*records) == {
        "orderid": "string",
        "product_name": "string",
        "quantity": "int",
        "price": "double",
        "event_name": "string",
        "is_deleted": "boolean",
        "event_id": "string",
        "sequence_number": "string",
        "event_time": "string",
    }


# -- classification --------------------------------------------------------------------------------------


def test_dollar_makes_each_top_level_object_a_record() -> None:
    reading = read_json(ndjson({"a": 1}, {"a": 2, "b": "x"}, {"a": 3}), "$")
    assert reading.matched and reading.records == 3
    assert reading.schema.glue_columns() == [{"Name": "a", "Type": "int"}, {"Name": "b", "Type": "string"}]


def test_dollar_reads_pretty_printed_objects_too() -> None:
    text = json.dumps({"a": 1}, indent=2) + "\n" + json.dumps({"a": 2}, indent=2)
    assert read_json(text, "$").records == 2


def test_array_path_makes_each_element_a_record() -> None:
    text = json.dumps([{"id": 1}, {"id": 2, "tag": "x"}])
    reading = read_json(text, "$[*]")
    assert reading.records == 2
    assert reading.schema.glue_columns() == [{"Name": "id", "Type": "int"}, {"Name": "tag", "Type": "string"}]
    assert not read_json(ndjson({"id": 1}), "$[*]").matched  # objects are not arrays


def test_nested_paths_select_records() -> None:
    text = json.dumps({"meta": {"n": 2}, "records": [{"id": 1}, {"id": 2}], "other": {"inner": [{"x": 1}]}})
    assert read_json(text, "$.records[*]").records == 2
    assert read_json(text, "$['records'][1]").records == 1
    assert read_json(text, "$.meta").schema.glue_columns() == [{"Name": "n", "Type": "int"}]
    assert read_json(text, "$.other.inner[*]").records == 1
    assert not read_json(text, "$.missing[*]").matched


def test_the_built_in_classifier_reads_top_level_arrays_as_one_array_column() -> None:
    reading = read_json(json.dumps([1, 2, 3]), BUILT_IN)
    assert reading.records == 1
    assert reading.schema.glue_columns() == [{"Name": "array", "Type": "array<int>"}]
    assert read_json(ndjson({"a": 1}, {"a": 2}), BUILT_IN).records == 2


@pytest.mark.parametrize(
    "text",
    ["not json at all\n", "orderid,quantity\no1,2\n", "42\n43\n", '"just a string"', "", "   \n", "{broken"],
)
def test_text_that_is_not_json_objects_does_not_match(text: str) -> None:
    assert not read_json(text, "$").matched
    assert not read_json(text, BUILT_IN).matched


def test_records_before_an_unreadable_tail_are_read() -> None:
    reading = read_json(ndjson({"a": 1}, {"a": 2}) + '{"a": 3, "trunc', "$")
    assert reading.records == 2


def test_schema_comes_from_the_first_megabyte_only() -> None:
    filler = ndjson(*({"a": "x" * 1000} for _ in range(1100)))  # > 1 MiB
    reading = read_json(filler + ndjson({"a": "y", "late": 1}), "$")
    assert reading.records == 1101
    assert [c["Name"] for c in reading.schema.glue_columns()] == ["a"]  # "late" is past the sample


@pytest.mark.parametrize("path", ["records", "$..records", "$[?(@.a)]", "$.a[1:2]"])
def test_unsupported_json_paths_are_refused(path: str) -> None:
    with pytest.raises(JsonPathError):
        parse_json_path(path)


# -- compression -----------------------------------------------------------------------------------------------


def test_compression_is_detected_by_magic_bytes_not_by_name() -> None:
    payload = ndjson({"a": 1}).encode()
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("part-0.json", payload)
    for data, kind in [
        (gzip.compress(payload), "gzip"),
        (bz2.compress(payload), "bzip2"),
        (zipped.getvalue(), "zip"),
        (payload, "none"),
    ]:
        assert compression_of(data) == kind
        assert decompress(data, kind) == payload
    assert decompress(b"\x1f\x8bnot really gzip", "gzip") is None


# -- exclusions, names, partitions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "key", "matches"),
    [
        ("**/_temporary/**", "year=2026/month=11/_temporary/0/part-0.gz", True),
        ("**/_temporary/**", "year=2026/_temporary/x", True),
        ("**/_temporary/**", "_temporary/x", False),  # ** then / needs a folder before it
        ("**/_temporary/**", "year=2026/month=11/part-0.gz", False),
        ("**.tmp", "year=2026/month=11/day=26/hour=10/part.gz.tmp", True),
        ("**.tmp", "x.tmp", True),
        ("**.tmp", "year=2026/x.tmp.gz", False),
        ("*.csv", "top.csv", True),
        ("*.csv", "year=2026/nested.csv", False),  # * stays within one name
        ("*", ".hidden", True),  # a leading dot is an ordinary character
        ("year=202?/**", "year=2026/a", True),
        ("year=202?/**", "year=20261/a", False),
        ("[!x]*.json", "a.json", True),
        ("[!x]*.json", "x.json", False),
        ("[a-c]/**", "b/z", True),
        ("{a,b}/**", "b/z", True),
        ("{a,b}/**", "c/z", False),
        ("\\*.json", "*.json", True),
        ("\\*.json", "a.json", False),
    ],
)
def test_exclude_patterns_follow_glue_globs(pattern: str, key: str, matches: bool) -> None:
    assert excluded(key, [glob_regex(pattern)]) is matches


@pytest.mark.parametrize(
    ("component", "name"),
    [("sales", "sales"), ("Sales-Data", "sales_data"), ("notes.txt", "notes_txt"), ("a b@c", "a_b_c")],
)
def test_table_names_are_lowercase_with_underscores(component: str, name: str) -> None:
    assert table_name(component) == name


def test_hive_folders_name_the_partition_keys() -> None:
    levels = partition_levels([["year=2026"], ["month=10", "month=11"], ["Day=01"]])
    assert levels == [("year", True), ("month", True), ("day", True)]
    assert partition_values(["year=2026", "month=11", "Day=01"], levels) == ["2026", "11", "01"]


def test_plain_or_mixed_folders_are_numbered_partitions() -> None:
    levels = partition_levels([["2026"], ["month=11", "12"], ["a=1", "b=2"]])
    assert levels == [("partition_0", False), ("partition_1", False), ("partition_2", False)]
    assert partition_values(["2026", "month=11", "a=1"], levels) == ["2026", "month=11", "a=1"]


def test_a_value_may_contain_equals_signs() -> None:
    levels = partition_levels([["q=a=b"]])
    assert partition_values(["q=a=b"], levels) == ["a=b"]


def test_empty_schema_has_no_columns() -> None:
    assert TableSchema().glue_columns() == [] and TableSchema().paths == ""
