"""The Athena engine's cache of decoded objects: re-read when an object changes, bytes billed on every query,
bounded, and never a different answer than reading the JSON itself."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.glue.models import glue_backends
from moto.s3.models import s3_backends

from localaws.athena_engine import sql
from localaws.athena_engine.engine import AthenaEngine, QueryContext, QueryOutcome
from localaws.athena_engine.errors import QueryCancelled, QueryFailed

ACCOUNT, REGION, DATABASE, BUCKET = "310987654321", "us-east-1", "cachecheck", "cache-check-lake"
SERDE = "org.openx.data.jsonserde.JsonSerDe"


def put(key: str, rows: list[Any], raw: str | None = None) -> None:
    text = raw if raw is not None else "".join(json.dumps(r) + "\n" for r in rows)
    s3_backends[ACCOUNT]["aws"].put_object(BUCKET, key, gzip.compress(text.encode()))


def table(name: str, columns: list[tuple[str, str]], serde_parameters: dict[str, str] | None = None) -> None:
    glue = glue_backends[ACCOUNT][REGION]
    if name in glue.databases[DATABASE].tables:
        glue.delete_table(DATABASE, name)
    storage = {
        "Columns": [{"Name": n, "Type": t} for n, t in columns],
        "Location": f"s3://{BUCKET}/{name}/",
        "SerdeInfo": {"SerializationLibrary": SERDE, "Parameters": serde_parameters or {}},
    }
    glue.create_table(
        DATABASE, name, {"Name": name, "TableType": "EXTERNAL_TABLE", "StorageDescriptor": storage, "PartitionKeys": []}
    )


@pytest.fixture(scope="module", autouse=True)
def world() -> None:
    s3 = s3_backends[ACCOUNT]["aws"]
    if BUCKET not in s3.buckets:
        s3.create_bucket(BUCKET, REGION)
    glue = glue_backends[ACCOUNT][REGION]
    if DATABASE not in glue.databases:
        glue.create_database(DATABASE, {"Name": DATABASE})


@pytest.fixture()
def engine() -> Iterator[AthenaEngine]:
    engine = AthenaEngine()
    yield engine
    engine.close()


def run(engine: AthenaEngine, query: str, **context: Any) -> QueryOutcome:
    return engine.run(sql.classify(query, None), QueryContext(ACCOUNT, REGION, DATABASE, **context))


def test_overwritten_object_is_read_again_and_bytes_are_billed_every_time(engine: AthenaEngine) -> None:
    table("t1", [("a", "int"), ("b", "string")])
    put("t1/x.gz", [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}])
    first = run(engine, "SELECT sum(a), count(*) FROM t1")
    second = run(engine, "SELECT sum(a), count(*) FROM t1")
    assert first.result.rows == second.result.rows == [["3", "2"]]
    assert first.scanned_bytes == second.scanned_bytes > 0
    assert engine.cache.decoded == 1 and engine.cache.hits == 1 and engine.cache.s3_reads == 1
    put("t1/x.gz", [{"a": 10, "b": "x"}])
    assert run(engine, "SELECT sum(a), count(*) FROM t1").result.rows == [["10", "1"]]
    assert engine.cache.decoded == 2


def test_bad_value_in_an_unread_column_does_not_fail_and_a_read_one_does(engine: AthenaEngine) -> None:
    table("t2", [("a", "int"), ("b", "int")])
    put("t2/x.gz", [{"a": 1, "b": "not a number"}, {"a": 2, "b": 3}])
    for _ in range(2):
        assert run(engine, "SELECT sum(a) FROM t2").result.rows == [["3"]]
        with pytest.raises(QueryFailed) as caught:
            run(engine, "SELECT sum(b) FROM t2")
        assert (
            caught.value.reason.startswith("HIVE_BAD_DATA") and "s3://cache-check-lake/t2/x.gz" in caught.value.reason
        )
    assert engine.cache.decoded == 0


def test_malformed_json_with_ignore(engine: AthenaEngine) -> None:
    table("t3", [("a", "int"), ("b", "int")], {"ignore.malformed.json": "true"})
    put("t3/x.gz", [], raw='{"a": 1, "b": "x"}\nnot json\n{"a": 3, "b": 4}\n')
    for _ in range(2):
        assert run(engine, "SELECT a, b FROM t3").result.rows == [["1", None], [None, None], ["3", "4"]]
    table("t3b", [("a", "int")])
    put("t3b/x.gz", [], raw='{"a": 1}\nnot json\n')
    with pytest.raises(QueryFailed) as caught:
        run(engine, "SELECT a FROM t3b")
    assert caught.value.reason.startswith("HIVE_CURSOR_ERROR")


def test_schema_change_decodes_again(engine: AthenaEngine) -> None:
    table("t4", [("a", "int")])
    put("t4/x.gz", [{"a": 1, "c": "new"}])
    assert run(engine, "SELECT * FROM t4").result.rows == [["1"]]
    table("t4", [("a", "int"), ("c", "string")])
    assert run(engine, "SELECT * FROM t4").result.rows == [["1", "new"]]


def test_mixed_case_keys_then_new_object_with_other_case(engine: AthenaEngine) -> None:
    table("t5", [("orderid", "string")])
    put("t5/1.gz", [{"orderid": "a"}])
    assert run(engine, "SELECT orderid FROM t5 ORDER BY 1").result.rows == [["a"]]
    put("t5/2.gz", [{"OrderId": "b"}])
    assert run(engine, "SELECT orderid FROM t5 ORDER BY 1").result.rows == [["a"], ["b"]]


def test_lru_bound(engine: AthenaEngine) -> None:
    small = AthenaEngine(cache_bytes=1)
    try:
        table("t6", [("a", "int")])
        for i in range(5):
            put(f"t6/{i}.gz", [{"a": i}])
        for _ in range(2):
            assert run(small, "SELECT sum(a) FROM t6").result.rows == [["10"]]
        assert small.cache.bytes <= 1 and small.cache.evicted >= 5
        directory = small.cache.directory()
        assert [p for p in directory.iterdir() if p.suffix == ".parquet"] == []
    finally:
        small.close()
    assert not directory.exists()


def test_cache_off(engine: AthenaEngine) -> None:
    off = AthenaEngine(cache_bytes=0)
    try:
        table("t7", [("a", "int")])
        put("t7/0.gz", [{"a": 5}])
        assert run(off, 'SELECT sum(a), "$path" FROM t7 GROUP BY 2').result.rows == [["5", f"s3://{BUCKET}/t7/0.gz"]]
        assert off.cache.decoded == 0
    finally:
        off.close()


def test_cutoff_cancels_warm_too(engine: AthenaEngine) -> None:
    table("t8", [("a", "int")])
    put("t8/0.gz", [{"a": i} for i in range(1000)])
    assert run(engine, "SELECT count(*) FROM t8").result.rows == [["1000"]]
    with pytest.raises(QueryCancelled):
        run(engine, "SELECT count(*) FROM t8", bytes_scanned_cutoff=10)


def test_object_in_two_partitions_is_read_once_per_partition(engine: AthenaEngine) -> None:
    glue = glue_backends[ACCOUNT][REGION]
    if "t9" in glue.databases[DATABASE].tables:
        glue.delete_table(DATABASE, "t9")
    storage = {
        "Columns": [{"Name": "a", "Type": "int"}],
        "Location": f"s3://{BUCKET}/t9/",
        "SerdeInfo": {"SerializationLibrary": SERDE, "Parameters": {}},
    }
    glue.create_table(
        DATABASE,
        "t9",
        {
            "Name": "t9",
            "TableType": "EXTERNAL_TABLE",
            "StorageDescriptor": storage,
            "PartitionKeys": [{"Name": "p", "Type": "string"}],
        },
    )
    for p in ("x", "y"):
        glue.create_partition(
            DATABASE, "t9", {"Values": [p], "StorageDescriptor": {**storage, "Location": f"s3://{BUCKET}/t9/same/"}}
        )
    put("t9/same/0.gz", [{"a": 1}, {"a": 2}])
    for _ in range(2):
        assert run(engine, 'SELECT p, a, "$path" FROM t9 ORDER BY 1, 2').result.rows == [
            ["x", "1", f"s3://{BUCKET}/t9/same/0.gz"],
            ["x", "2", f"s3://{BUCKET}/t9/same/0.gz"],
            ["y", "1", f"s3://{BUCKET}/t9/same/0.gz"],
            ["y", "2", f"s3://{BUCKET}/t9/same/0.gz"],
        ]


def test_cancel_during_decode(engine: AthenaEngine) -> None:
    import threading

    table("t10", [("a", "int"), ("b", "string")])
    for i in range(8):
        put(f"t10/{i}.gz", [{"a": j, "b": "x" * 50} for j in range(100_000)])
    context = QueryContext(ACCOUNT, REGION, DATABASE)

    def cancel() -> None:
        context.cancelled.set()
        engine.interrupt("tok")

    timer = threading.Timer(0.3, cancel)
    timer.start()
    with pytest.raises(QueryCancelled):
        engine.run(sql.classify("SELECT sum(a) FROM t10", None), context, "tok")
    assert engine.cache.bytes >= 0
    assert run(engine, "SELECT sum(a) FROM t10").result.rows == [[str(8 * sum(range(100_000)))]]
    assert not [
        p for p in engine.cache.directory().rglob("*") if p.name.endswith(".part") or p.name.startswith("staging")
    ]


def test_overwrite_drops_the_old_copy(engine: AthenaEngine) -> None:
    table("t11", [("a", "int")])
    put("t11/x.gz", [{"a": 1}])
    run(engine, "SELECT sum(a) FROM t11")
    before = engine.cache.bytes
    put("t11/x.gz", [{"a": 2}])
    assert run(engine, "SELECT sum(a) FROM t11").result.rows == [["2"]]
    assert engine.cache.bytes == before and engine.cache.evicted == 1
