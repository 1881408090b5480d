"""Objects of many events end to end (moto S3 in process, a real PostgreSQL, etl_writer):
Firehose-shaped newline-delimited objects, gzip or not, larger than a load batch, so
that each is read and loaded part by part in one transaction.  Exactly once holds per
object whatever happens in the middle of one."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest

from clickstream_etl import etl_db, etl_s3, etl_transform
from etl_test_helpers import at_the_same_time, hour_key, ingest_block, put_raw

pytestmark = pytest.mark.integration

H11 = datetime(2026, 12, 7, 11, tzinfo=UTC)
MANUAL = {"from": "2026-12-07T11", "to": "2026-12-07T11"}
BATCH = 50  # MAX_RECORDS_PER_BATCH of etl_env: every object below is several parts


def firehose_key(n: int) -> str:
    return hour_key(H11, f"clickstream-raw-1-2026-12-07-11-{n:02d}-00-{n:08x}")


def record(event_id: str | None, minute: int = 0, **fields: Any) -> bytes:
    payload: dict[str, Any] = {"eventName": "page_view", **fields}
    if event_id is not None:
        payload["eventId"] = event_id
    payload["_ingest"] = ingest_block(H11 + timedelta(minutes=minute))
    return json.dumps(payload).encode() + b"\n"


def put_lines(s3, n: int, lines: list[bytes], gzipped: bool = False) -> str:
    body = b"".join(lines)
    return put_raw(s3, firehose_key(n), gzip.compress(body) if gzipped else body)


def ids(dw) -> list[str]:
    return [row[0] for row in dw.query("SELECT event_id FROM clickstream_events ORDER BY 1")]


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_large_newline_delimited_object_loads_once_with_its_bad_lines(
    etl_env, s3, etl_handler, gzipped
) -> None:
    lines = [record(f"f-{n:03d}", minute=n % 60) for n in range(180)]
    lines[7] = b"42\n"  # not an object
    lines[60] = b'{"eventName": "x\xff"}\n'  # not UTF-8
    lines[61] = b"\n"  # blank: skipped, but counted as a line
    lines[120] = record(None)  # no eventId: generated from key and line
    lines[-1] = lines[-1][:30]  # truncated, no line break
    key = put_lines(s3, 1, lines, gzipped)

    summary = etl_handler.handler(MANUAL, None)

    generated = etl_transform.generated_event_id(key, 120)
    expected = {f"f-{n:03d}" for n in range(179)} - {"f-007", "f-060", "f-061", "f-120"}
    assert set(ids(etl_env)) == expected | {generated}
    rejects = etl_env.query("SELECT event_index, reason FROM etl_rejects ORDER BY 1")
    assert [index for index, _ in rejects] == [7, 60, 179]
    assert rejects[0][1] == "event must be a JSON object, got number"
    assert rejects[1][1].startswith("line 60 is not UTF-8 text")
    assert "cut short?" in rejects[2][1]
    assert summary["objects_loaded"] == 1
    assert summary["rows_inserted"] == 176
    assert summary["events_rejected"] == 3
    assert summary["events_read"] == 179  # 180 lines, one blank
    manifest = etl_env.query("SELECT row_count, reject_count FROM etl_manifest")
    assert manifest == [(176, 3)]
    assert etl_env.scalar("SELECT events_read FROM etl_runs") == 179
    assert (
        etl_env.scalar(
            "SELECT source_event_index FROM clickstream_events WHERE event_id = %s", (generated,)
        )
        == 120
    )

    again = etl_handler.handler(MANUAL, None)
    assert (again["objects_already_loaded"], again["rows_inserted"], again["events_read"]) == (
        1,
        0,
        0,
    )
    assert len(ids(etl_env)) == 176


def test_gzip_that_stops_short_loads_the_events_before_the_cut(etl_env, s3, etl_handler) -> None:
    body = gzip.compress(b"".join(record(f"g-{n:03d}", blob="z" * n) for n in range(300)))
    key = put_raw(s3, firehose_key(2), body[: len(body) // 2])

    summary = etl_handler.handler(MANUAL, None)

    loaded = ids(etl_env)
    assert 0 < len(loaded) < 300
    assert loaded == [f"g-{n:03d}" for n in range(len(loaded))]
    [(index, reason)] = etl_env.query("SELECT event_index, reason FROM etl_rejects")
    assert index == len(loaded)
    assert "gzip data stops short" in reason
    assert summary["events_read"] == len(loaded) + 1
    assert key


def test_duplicates_across_parts_and_objects_are_one_row(etl_env, s3, etl_handler) -> None:
    """A client's retry in the same object, in a later part, and in another object."""
    lines = [record(f"d-{n:03d}") for n in range(120)]
    lines[110] = record("d-005", minute=30)  # the same id four parts later
    put_lines(s3, 3, lines)
    put_raw(s3, hour_key(H11), record("d-010", minute=40))  # in a single-event object too

    summary = etl_handler.handler(MANUAL, None)

    assert ids(etl_env) == sorted({f"d-{n:03d}" for n in range(120)} - {"d-110"})
    assert summary["rows_inserted"] == 119
    assert summary["rows_duplicate"] == 2
    first = etl_env.scalar(
        "SELECT source_event_index FROM clickstream_events WHERE event_id = 'd-005'"
    )
    assert first == 5


def test_many_objects_of_both_kinds_in_one_run(etl_env, s3, etl_handler, monkeypatch) -> None:
    monkeypatch.setenv("ETL_LOAD_CONNECTIONS", "2")
    expected = set()
    for n in range(6):
        lines = [record(f"m-{n}-{i:03d}") for i in range(BATCH * 2 + n)]
        put_lines(s3, 10 + n, lines, gzipped=n % 2 == 1)
        expected |= {f"m-{n}-{i:03d}" for i in range(len(lines))}
    for n in range(30):
        put_raw(s3, hour_key(H11), record(f"s-{n:02d}"))
        expected.add(f"s-{n:02d}")

    summary = etl_handler.handler(MANUAL, None)

    assert set(ids(etl_env)) == expected
    assert summary["objects_loaded"] == 36
    assert summary["events_read"] == summary["rows_inserted"] == len(expected)
    counts = dict(etl_env.query("SELECT object_key, row_count FROM etl_manifest"))
    assert sum(counts.values()) == len(expected)
    assert etl_env.scalar("SELECT sum(events) FROM hourly_event_counts") == len(expected)


@pytest.mark.parametrize("where", ["between parts", "before commit"])
def test_database_stopped_inside_a_large_object_leaves_none_of_it(
    etl_env, s3, etl_handler, monkeypatch, where
) -> None:
    monkeypatch.setenv("ETL_LOAD_CONNECTIONS", "1")
    put_lines(s3, 4, [record(f"x-{n:03d}") for n in range(200)])
    server = etl_env.server
    original = etl_db._insert_unique
    calls = {"n": 0}

    def stop_after_two_parts(*args: Any) -> Any:
        result = original(*args)
        calls["n"] += 1
        if calls["n"] == 2:
            server.stop("immediate")
        return result

    load_batch = etl_db.load_batch
    if where == "between parts":
        monkeypatch.setattr(etl_db, "_insert_unique", stop_after_two_parts)
    else:
        monkeypatch.setattr(
            etl_db,
            "load_batch",
            lambda *a, **k: load_batch(*a, before_commit=lambda: server.stop("immediate"), **k),
        )
    try:
        with pytest.raises((psycopg2.OperationalError, psycopg2.InterfaceError)):
            etl_handler.handler(MANUAL, None)
    finally:
        monkeypatch.setattr(etl_db, "_insert_unique", original)
        monkeypatch.setattr(etl_db, "load_batch", load_batch)
        server.start()

    assert ids(etl_env) == []
    assert etl_env.scalar("SELECT count(*) FROM etl_manifest") == 0
    summary = etl_handler.handler(MANUAL, None)
    assert summary["rows_inserted"] == 200
    assert len(ids(etl_env)) == 200


def test_a_deadlock_retries_the_object_from_a_new_read(etl_env, s3, etl_handler, monkeypatch):
    put_lines(s3, 5, [record(f"r-{n:03d}") for n in range(130)])
    load_streamed = etl_db.load_streamed
    failures = iter([True])

    def deadlock_once() -> None:
        if next(failures, False):
            raise psycopg2.errors.DeadlockDetected("deadlock detected (injected)")

    monkeypatch.setattr(
        etl_db,
        "load_streamed",
        lambda *a, **k: load_streamed(*a[:4], before_commit=deadlock_once),
    )
    gets = []
    get_object = s3.get_object

    def counting_get(**kwargs: Any) -> Any:
        gets.append(kwargs)
        return get_object(**kwargs)

    monkeypatch.setattr(etl_s3, "make_client", lambda _: s3)
    monkeypatch.setattr(s3, "get_object", counting_get)

    summary = etl_handler.handler(MANUAL, None)

    assert summary["rows_inserted"] == 130
    assert len(ids(etl_env)) == 130
    assert len(gets) == 2
    assert gets[1]["IfMatch"] == etl_env.scalar("SELECT etag FROM etl_manifest")


def test_a_read_that_breaks_off_resumes_where_it_stopped(etl_env, s3, etl_handler, monkeypatch):
    put_lines(s3, 6, [record(f"b-{n:03d}") for n in range(150)])
    monkeypatch.setattr(etl_s3, "READ_CHUNK_BYTES", 4096)
    monkeypatch.setattr(etl_s3, "make_client", lambda _: s3)
    get_object = s3.get_object
    ranges = []

    def breaking_get(**kwargs: Any) -> Any:
        response = get_object(**kwargs)
        ranges.append(kwargs.get("Range"))
        if len(ranges) <= 2:
            response["Body"] = BreakingBody(response["Body"], after=3)
        return response

    monkeypatch.setattr(s3, "get_object", breaking_get)

    summary = etl_handler.handler(MANUAL, None)

    assert summary["rows_inserted"] == 150
    assert ranges == [None, "bytes=12288-", "bytes=24576-"]


def test_a_read_that_keeps_breaking_fails_the_object_and_the_next_run_loads_it(
    etl_env, s3, etl_handler, monkeypatch
) -> None:
    put_lines(s3, 7, [record(f"k-{n:03d}") for n in range(150)])
    put_raw(s3, hour_key(H11), record("single"))
    monkeypatch.setattr(etl_s3, "READ_CHUNK_BYTES", 4096)
    monkeypatch.setattr(etl_s3, "make_client", lambda _: s3)
    get_object = s3.get_object

    def breaking_get(**kwargs: Any) -> Any:
        response = get_object(**kwargs)
        if "clickstream-raw" in kwargs["Key"]:
            response["Body"] = BreakingBody(response["Body"], after=3)
        return response

    monkeypatch.setattr(s3, "get_object", breaking_get)
    with pytest.raises(etl_handler.EtlIncompleteError, match="1 object"):
        etl_handler.handler(MANUAL, None)
    assert ids(etl_env) == ["single"]
    status, failed, error = etl_env.query("SELECT status, objects_failed, error FROM etl_runs")[0]
    assert (status, failed) == ("failed", 1)
    assert "clickstream-raw" in error

    monkeypatch.setattr(s3, "get_object", get_object)
    summary = etl_handler.handler(MANUAL, None)
    assert summary["rows_inserted"] == 150
    assert summary["objects_already_loaded"] == 1


def test_two_runs_at_the_same_time_load_each_large_object_once(etl_env, s3, etl_handler):
    expected = set()
    for n in range(4):
        lines = [record(f"c-{n}-{i:03d}") for i in range(120)]
        lines[50] = record("c-shared")  # in every object
        put_lines(s3, 20 + n, lines, gzipped=bool(n % 2))
        expected |= {f"c-{n}-{i:03d}" for i in range(120) if i != 50}
    expected.add("c-shared")
    results = at_the_same_time(2, lambda: etl_handler.handler(MANUAL, None))

    assert all(isinstance(r, dict) for r in results), results
    assert set(ids(etl_env)) == expected
    assert sum(r["objects_loaded"] for r in results) == 4
    assert sum(r["rows_inserted"] for r in results) == len(expected)
    assert etl_env.scalar("SELECT count(*) FROM etl_manifest") == 4


class BreakingBody:
    """A GET body whose read breaks off after ``after`` reads, as a reset connection does."""

    def __init__(self, body: Any, after: int) -> None:
        self._body = body
        self._left = after

    def read(self, amount: int | None = None) -> bytes:
        if self._left == 0:
            from botocore.exceptions import ResponseStreamingError

            raise ResponseStreamingError(error="Connection broken: reset by peer (injected)")
        self._left -= 1
        return self._body.read(amount)

    def close(self) -> None:
        self._body.close()
