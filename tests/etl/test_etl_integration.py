"""The ETL handler end to end: moto S3 (in process) and a real PostgreSQL, connecting
as etl_writer.  In every case the events table holds exactly the unique valid events
and the rejects table exactly the bad ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg2
import pytest

from clickstream_etl import etl_db, etl_s3
from clickstream_tools import pgcluster as pg_fixture
from etl_test_helpers import (
    BUCKET,
    ETL_PASSWORD,
    MIGRATIONS,
    at_the_same_time,
    hour_key,
    ingest_block,
    put_raw,
)

pytestmark = pytest.mark.integration

H10 = datetime(2024, 5, 1, 10, tzinfo=UTC)
H11 = H10 + timedelta(hours=1)
H12 = H10 + timedelta(hours=2)


def manual(first: datetime, last: datetime, **extra: Any) -> dict[str, Any]:
    return {"from": first.strftime("%Y-%m-%dT%H"), "to": last.strftime("%Y-%m-%dT%H"), **extra}


def event(event_id: str | None, moment: datetime, name: str = "page_view", **fields) -> dict:
    payload: dict[str, Any] = {"eventName": name, "_ingest": ingest_block(moment), **fields}
    if event_id is not None:
        payload["eventId"] = event_id
    return payload


def put_event(s3, hour: datetime, event_id: str | None, minute: int = 0, **fields) -> str:
    return put_raw(s3, hour_key(hour), event(event_id, hour + timedelta(minutes=minute), **fields))


def put_batch(s3, hour: datetime, events: list[Any]) -> str:
    return put_raw(s3, hour_key(hour, f"batch-{len(events)}-{id(events)}.json"), {"events": events})


class Expect:
    """What the table must hold: unique valid event ids, and (key, index) rejects."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.rejects: set[tuple[str, int | None]] = set()

    def single(self, s3, hour: datetime, event_id: str, minute: int = 0, **fields) -> str:
        self.ids.add(event_id)
        return put_event(s3, hour, event_id, minute, **fields)


def table_ids(dw) -> list[str]:
    return [row[0] for row in dw.query("SELECT event_id FROM clickstream_events ORDER BY 1")]


def reject_rows(dw) -> list[tuple[str, int | None]]:
    return dw.query("SELECT object_key, event_index FROM etl_rejects ORDER BY 1, 2")


def assert_exact(dw, expect: Expect) -> None:
    ids = table_ids(dw)
    assert len(ids) == len(set(ids))
    assert set(ids) == expect.ids
    rejects = reject_rows(dw)
    assert len(rejects) == len(set(rejects))
    assert set(rejects) == expect.rejects


# ---------------------------------------------------------------------------------------------
def test_duplicates_across_objects_and_within_batches(etl_env, s3, etl_handler) -> None:
    expect = Expect()
    expect.single(s3, H10, "dup-1")
    put_event(s3, H10, "dup-1", minute=5)  # the client retried: same id, another object
    batch_key = put_batch(
        s3,
        H10,
        [
            event("dup-2", H10),
            event("dup-2", H10 + timedelta(minutes=1)),  # twice in the same batch
            event("dup-1", H10),  # and one already seen in another object
            event(None, H10),  # no id: generated from key and index
            event(None, H10),
        ],
    )
    expect.ids |= {"dup-2"}
    generated = [etl_handler.etl_transform.generated_event_id(batch_key, i) for i in (3, 4)]
    expect.ids |= set(generated)

    summary = etl_handler.handler(manual(H10, H10), None)

    assert_exact(etl_env, expect)
    assert summary["rows_inserted"] == 4
    assert summary["rows_duplicate"] == 3
    assert summary["objects_loaded"] == 3
    assert summary["status"] == "succeeded"
    first_dup = etl_env.scalar(
        "SELECT event_timestamp FROM clickstream_events WHERE event_id = 'dup-2'"
    )
    assert first_dup == H10  # the batch's first copy, whichever run or order


def test_an_event_id_loaded_by_an_earlier_run_is_skipped(etl_env, s3, etl_handler) -> None:
    """The first batch goes straight into the table; the second, holding an event_id the
    table has, falls back to the staging table and skips it.  Both record their run."""
    expect = Expect()
    expect.single(s3, H10, "early")
    first = etl_handler.handler(manual(H10, H10), None)
    put_batch(s3, H11, [event("early", H11), event("late", H11)])  # a retry, an hour later
    expect.ids.add("late")

    second = etl_handler.handler(manual(H11, H11), None)

    assert_exact(etl_env, expect)
    assert (first["rows_inserted"], first["rows_duplicate"]) == (1, 0)
    assert (second["rows_inserted"], second["rows_duplicate"]) == (1, 1)
    runs = etl_env.query("SELECT event_id, etl_run_id FROM clickstream_events ORDER BY 1")
    assert runs == [("early", first["run_id"]), ("late", second["run_id"])]
    kept = etl_env.scalar("SELECT event_timestamp FROM clickstream_events WHERE event_id = 'early'")
    assert kept == H10  # the first one loaded


def test_same_hours_loaded_three_times(etl_env, s3, etl_handler) -> None:
    expect = Expect()
    for hour in (H10, H11):
        for n in range(30):
            expect.single(s3, hour, f"{hour:%H}-{n}", minute=n)
    bad = put_raw(s3, hour_key(H11), b"{truncated")
    expect.rejects.add((bad, None))

    summaries = [etl_handler.handler(manual(H10, H11), None) for _ in range(3)]

    assert_exact(etl_env, expect)
    assert [s["rows_inserted"] for s in summaries] == [60, 0, 0]
    assert [s["objects_already_loaded"] for s in summaries] == [0, 61, 61]
    assert [s["objects_rejected"] for s in summaries] == [1, 0, 0]
    assert etl_env.scalar("SELECT count(*) FROM etl_manifest") == 61
    runs = etl_env.query("SELECT status, rows_inserted FROM etl_runs ORDER BY run_id")
    assert runs == [("succeeded", 60), ("succeeded", 0), ("succeeded", 0)]
    hourly = etl_env.query("SELECT event_hour, events FROM hourly_event_counts ORDER BY 1")
    assert hourly == [(H10, 30), (H11, 30)]


def test_overlapping_windows(etl_env, s3, etl_handler) -> None:
    expect = Expect()
    for hour in (H10, H11, H12):
        for n in range(10):
            expect.single(s3, hour, f"{hour:%H}-{n}", minute=n)
        batch = put_batch(s3, hour, [event(f"{hour:%H}-b", hour), {"no": "name"}])
        expect.ids.add(f"{hour:%H}-b")
        expect.rejects.add((batch, 1))

    first = etl_handler.handler(manual(H10, H11), None)
    second = etl_handler.handler(manual(H11, H12), None)
    third = etl_handler.handler(manual(H10, H12), None)

    assert_exact(etl_env, expect)
    assert (first["rows_inserted"], second["rows_inserted"], third["rows_inserted"]) == (22, 11, 0)
    assert second["objects_already_loaded"] == 11
    assert third["objects_already_loaded"] == 33


def test_two_runs_at_the_same_time(etl_env, s3, etl_handler, monkeypatch) -> None:
    monkeypatch.setenv("MAX_RECORDS_PER_BATCH", "10")
    expect = Expect()
    for n in range(120):
        expect.single(s3, H10 if n % 2 else H11, f"c-{n}", minute=n % 60)
    # the same event ids in other objects too: both runs race on them as well
    for n in range(0, 120, 7):
        put_event(s3, H10, f"c-{n}", minute=59)
    bad = put_batch(s3, H11, [event("c-batch", H11), "not an event"])
    expect.ids.add("c-batch")
    expect.rejects.add((bad, 1))

    results = at_the_same_time(3, lambda: etl_handler.handler(manual(H10, H11), None))

    assert all(isinstance(r, dict) for r in results), results
    assert_exact(etl_env, expect)
    objects = 120 + len(range(0, 120, 7)) + 1
    assert sum(r["rows_inserted"] for r in results) == len(expect.ids)
    assert sum(r["objects_loaded"] for r in results) == objects
    assert sum(r["events_rejected"] for r in results) == 1
    assert etl_env.scalar("SELECT count(*) FROM etl_manifest") == objects
    counts = etl_env.query("SELECT sum(events) FROM hourly_event_counts")
    assert counts == [(len(expect.ids),)]


def test_malformed_objects_and_events(etl_env, s3, etl_handler) -> None:
    expect = Expect()
    expect.single(s3, H10, "good-1")
    malformed_objects = {
        "not json": b"this is not json",
        "empty": b"",
        "not utf-8": b"\xff\xfe\x00{",
        "scalar": b"12",
        "NaN": b'{"eventName": "x", "v": NaN}',
        "empty batch": b'{"events": []}',
    }
    for body in malformed_objects.values():
        name = "batch-x.json" if body.startswith(b'{"events"') else None
        key = put_raw(s3, hour_key(H10, name), body)
        expect.rejects.add((key, None))
    batch = put_batch(
        s3,
        H10,
        [
            event("good-2", H10),
            {"eventName": ""},  # 1
            event("bad-price", H10, product={"id": "p", "price": "ten"}),  # 2
            event("good-3", H10, product={"id": "p", "price": "10.5"}),
            event("bad-first", H10, isFirstVisit="perhaps"),  # 4
            event("nul", H10, element={"text": "a\u0000b"}),  # 5
            ["array"],  # 6
        ],
    )
    expect.ids |= {"good-2", "good-3"}
    expect.rejects |= {(batch, i) for i in (1, 2, 4, 5, 6)}

    summary = etl_handler.handler(manual(H10, H10), None)

    assert_exact(etl_env, expect)
    assert summary["objects_rejected"] == len(malformed_objects)
    assert summary["events_rejected"] == 5
    reasons = dict(
        etl_env.query("SELECT event_index, reason FROM etl_rejects WHERE object_key = %s", (batch,))
    )
    assert reasons[2] == 'product.price is not numeric: "ten"'
    assert reasons[4].startswith("isFirstVisit must be a boolean")
    assert "NUL" in reasons[5]
    price = etl_env.scalar(
        "SELECT context_product_price FROM clickstream_events WHERE event_id = 'good-3'"
    )
    assert price == 11
    # the objects are recorded as done: a rerun rejects nothing twice
    again = etl_handler.handler(manual(H10, H10), None)
    assert (again["objects_rejected"], again["events_rejected"]) == (0, 0)
    assert_exact(etl_env, expect)


def test_late_objects_are_picked_up_by_the_lookback(etl_env, s3, etl_handler) -> None:
    expect = Expect()
    expect.single(s3, H12, "on-time")
    first = etl_handler.handler({"time": "2024-05-01T13:05:00Z"}, None)  # 10..12
    assert first["hours"] == ["2024-05-01T10", "2024-05-01T11", "2024-05-01T12"]

    expect.single(s3, H11, "late-into-11")  # arrives after its hour was processed
    too_late = put_event(s3, H10 - timedelta(hours=1), "too-late-for-lookback")
    second = etl_handler.handler({"time": "2024-05-01T14:05:00Z"}, None)  # 11..13

    assert second["rows_inserted"] == 1
    assert_exact(etl_env, expect)
    assert too_late  # outside every look-back window: only a manual rerun loads it
    etl_handler.handler(manual(H10 - timedelta(hours=1), H10 - timedelta(hours=1)), None)
    expect.ids.add("too-late-for-lookback")
    assert_exact(etl_env, expect)


@pytest.mark.parametrize("connections", [1, 2])
def test_database_stopped_in_the_middle_of_a_run_then_repeated(
    etl_env, s3, etl_handler, monkeypatch, connections
) -> None:
    monkeypatch.setenv("MAX_RECORDS_PER_BATCH", "10")
    monkeypatch.setenv("ETL_FETCH_CONCURRENCY", "2")
    monkeypatch.setenv("ETL_LOAD_CONNECTIONS", str(connections))
    expect = Expect()
    for n in range(60):
        expect.single(s3, H10, f"s-{n}", minute=n)
    bad = put_batch(s3, H10, [event("s-batch", H10), {"eventName": 7}])
    expect.ids.add("s-batch")
    expect.rejects.add((bad, 1))

    server = etl_env.server
    original = etl_db.load_batch
    calls = {"n": 0}

    def stop_inside_the_second_batch() -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # COPY and INSERT done, COMMIT not yet sent
            server.stop("immediate")

    def load_batch(*args, **kwargs):
        return original(*args, before_commit=stop_inside_the_second_batch, **kwargs)

    monkeypatch.setattr(etl_db, "load_batch", load_batch)
    try:
        # Which connection notices first decides the class: OperationalError
        # (server gone) or InterfaceError (connection already closed).
        with pytest.raises((psycopg2.OperationalError, psycopg2.InterfaceError)):
            etl_handler.handler(manual(H10, H10), None)
    finally:
        monkeypatch.setattr(etl_db, "load_batch", original)
        server.start()  # whatever happened, the next tests need their server

    # whole batches survived (with one connection: exactly the first), nothing else
    loaded_keys = {row[0] for row in etl_env.query("SELECT object_key FROM etl_manifest")}
    survivors = etl_env.query("SELECT source_object_key FROM clickstream_events")
    assert len(loaded_keys) < 61
    if connections == 1:
        assert len(loaded_keys) > 0
    assert {row[0] for row in survivors} == loaded_keys
    assert etl_env.scalar("SELECT status FROM etl_runs WHERE run_id = 1") == "running"

    summary = etl_handler.handler(manual(H10, H10), None)
    assert summary["status"] == "succeeded"
    assert summary["objects_already_loaded"] == len(loaded_keys)
    assert_exact(etl_env, expect)


def test_database_unreachable_fails_the_invocation(etl_env, s3, etl_handler, monkeypatch) -> None:
    put_event(s3, H10, "x")
    monkeypatch.setenv("DW_PG_PORT", "1")
    with pytest.raises(psycopg2.OperationalError):
        etl_handler.handler(manual(H10, H10), None)


def test_tls_required_but_not_offered_is_refused(etl_env, s3, etl_handler, monkeypatch) -> None:
    monkeypatch.setenv("DW_PG_SSL", "true")
    with pytest.raises(psycopg2.OperationalError, match="SSL"):
        etl_handler.handler(manual(H10, H10), None)


def test_values_survive_copy_escaping(etl_env, s3, etl_handler) -> None:
    tricky = "tab\there\nnewline\\backslash \\N \u00e9\u6f22\U0001f600 'quote\" \r"
    fields = {
        "userId": tricky,
        "pageUrl": "https://shop.example/p?q=a\tb",
        "element": {"text": tricky, "dataset": {"k": ["\\", "\t"]}},
        "product": {"id": "p-1", "name": tricky, "brand": {"title": "Acme"}, "price": 12},
    }
    put_event(s3, H10, "tricky", **fields)
    etl_handler.handler(manual(H10, H10), None)
    row = etl_env.query(
        "SELECT user_id, page_url, payload_extra, context_product_name, context_product_brand,"
        " context_product_price, ingest_metadata->>'requestId' IS NOT NULL"
        " FROM clickstream_events WHERE event_id = 'tricky'"
    )[0]
    assert row[0] == tricky
    assert row[1] == "https://shop.example/p?q=a\tb"
    assert row[2] == {"element": fields["element"], "product": {"brand": {"title": "Acme"}}}
    assert row[3:] == (tricky, "Acme", 12, True)


def test_rollups_are_built_and_updated_incrementally(etl_env, s3, etl_handler) -> None:
    def put(hour: datetime, minute: int, name: str, event_id: str, **fields) -> None:
        put_event(s3, hour, event_id, minute, name=name, **fields)

    product = {"id": "sku-1", "name": "Laptop", "category": "Computers", "brand": "SBW"}
    # session s1: the full funnel, in order, within hour 10
    for minute, name in enumerate(
        [
            "home_view",
            "category_view",
            "product_view",
            "add_to_cart_click",
            "checkout_start",
            "checkout_complete",
        ]
    ):
        extra = {"product": product} if name in ("product_view", "add_to_cart_click") else {}
        put(H10, minute, name, f"s1-{minute}", sessionId="s1", clientId="c1", **extra)
    # session s2: product view, then home (out of order for the strict funnel)
    put(H10, 10, "product_view", "s2-a", sessionId="s2", clientId="c2", product=product)
    put(H10, 11, "home_view", "s2-b", sessionId="s2", clientId="c2")
    # no sessionId: visitor c3, a 40-minute gap splits two derived sessions
    put(H10, 0, "page_view", "c3-a", clientId="c3", pageUrl="/a")
    put(H10, 5, "page_view", "c3-b", clientId="c3", pageUrl="/b")
    put(H10, 45, "page_view", "c3-c", clientId="c3", pageUrl="/c")

    etl_handler.handler(manual(H10, H10), None)

    sessions = etl_env.query(
        "SELECT session_key, is_derived, event_count, converted, entry_page, exit_page"
        " FROM sessions ORDER BY session_key"
    )
    c3_first = int(H10.timestamp() * 1000)
    c3_second = int((H10 + timedelta(minutes=45)).timestamp() * 1000)
    assert sessions == [
        (f"d:c3:{c3_first}", True, 2, False, "/a", "/b"),
        (f"d:c3:{c3_second}", True, 1, False, "/c", "/c"),
        ("s:s1", False, 6, True, None, None),
        ("s:s2", False, 2, False, None, None),
    ]
    funnel = etl_env.query(
        "SELECT step_name, events, sessions, sessions_in_order FROM daily_funnel"
        " WHERE NOT is_bot ORDER BY step_no"
    )
    assert funnel == [
        ("home_view", 2, 2, 2),
        ("category_view", 1, 1, 1),
        ("product_view", 2, 2, 1),
        ("add_to_cart_click", 1, 1, 1),
        ("checkout_start", 1, 1, 1),
        ("checkout_complete", 1, 1, 1),
    ]
    engagement = etl_env.query(
        "SELECT product_id, product_name, product_brand, views, unique_viewers, add_to_cart,"
        " converted_sessions FROM daily_product_engagement"
    )
    assert engagement == [("sku-1", "Laptop", "SBW", 2, 2, 1, 1)]

    # a later run: one more event for s2 in hour 11, and a c3 event bridging the gap
    put(H11, 0, "checkout_complete", "s2-c", sessionId="s2", clientId="c2")
    put_event(s3, H11, "c3-d", 0, name="page_view", clientId="c3", pageUrl="/d")
    put_raw(
        s3,
        hour_key(H11),
        event("c3-bridge", H10 + timedelta(minutes=25), clientId="c3", pageUrl="/bridge"),
    )
    summary = etl_handler.handler(manual(H11, H11), None)
    assert summary["rollup_hours_refreshed"] == 2  # hour 11, and hour 10 for the bridge event

    sessions = dict(
        etl_env.query("SELECT session_key, event_count FROM sessions WHERE visitor_key = 'c3'")
    )
    assert sessions == {f"d:c3:{c3_first}": 5}  # the 20-minute gaps join everything
    assert etl_env.scalar("SELECT converted FROM sessions WHERE session_key = 's:s2'") is True
    hourly = dict(
        etl_env.query(
            "SELECT event_hour, sum(events) FROM hourly_event_counts GROUP BY 1 ORDER BY 1"
        )
    )
    assert hourly == {H10: 12, H11: 2}
    assert (
        etl_env.scalar(
            "SELECT converted_sessions FROM daily_product_engagement WHERE product_id = 'sku-1'"
        )
        == 2
    )


def test_dry_run_lists_without_writing(etl_env, s3, etl_handler) -> None:
    loaded = put_event(s3, H10, "a")
    etl_handler.handler(manual(H10, H10), None)
    pending = put_event(s3, H10, "b")
    summary = etl_handler.handler(manual(H10, H11, dry_run=True), None)
    assert summary["dry_run"] is True
    assert summary["objects_to_load"] == 1
    assert summary["hours"][0]["keys_to_load"] == [pending]
    assert summary["hours"][0]["already_loaded"] == 1
    assert summary["hours"][1]["objects"] == 0
    assert table_ids(etl_env) == ["a"]
    assert etl_env.scalar("SELECT count(*) FROM etl_runs") == 1
    assert loaded != pending


def test_unreadable_object_fails_the_run_and_is_loaded_by_the_next(
    etl_env, s3, etl_handler, monkeypatch
) -> None:
    expect = Expect()
    expect.single(s3, H10, "readable")
    flaky = expect.single(s3, H10, "flaky")
    original = etl_s3.fetch_one

    def fetch_one(client, bucket, listed, *limits):
        if listed.key == flaky:
            return etl_s3.FetchFailure(listed, "ClientError: SlowDown")
        return original(client, bucket, listed, *limits)

    monkeypatch.setattr(etl_s3, "fetch_one", fetch_one)
    with pytest.raises(etl_handler.EtlIncompleteError, match="1 object"):
        etl_handler.handler(manual(H10, H10), None)
    assert table_ids(etl_env) == ["readable"]
    status, error = etl_env.query("SELECT status, error FROM etl_runs")[0]
    assert status == "failed"
    assert flaky in error

    monkeypatch.setattr(etl_s3, "fetch_one", original)
    etl_handler.handler(manual(H10, H10), None)
    assert_exact(etl_env, expect)


def test_summary_and_emf_metrics_on_stdout(etl_env, s3, etl_handler, capsys) -> None:
    put_event(s3, H10, "m-1")
    summary = etl_handler.handler(manual(H10, H10), None)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    emf = [line for line in lines if "_aws" in line]
    assert len(emf) == 1
    assert emf[0]["RowsInserted"] == 1
    assert emf[0]["ObjectsSeen"] == 1
    assert emf[0]["run_id"] == summary["run_id"]
    assert set(summary) >= {
        "hours",
        "objects_seen",
        "objects_loaded",
        "objects_already_loaded",
        "objects_rejected",
        "rows_inserted",
        "rows_duplicate",
        "duration_ms",
    }
    assert all(line["run_id"] == summary["run_id"] for line in lines[1:] if "level" in line)


@pytest.fixture(scope="module")
def tls_server():
    with pg_fixture.running_postgres(tls=True) as server:
        server.create_database("clickstream_dw")
        pg_fixture.apply_migrations(server, "clickstream_dw", MIGRATIONS)
        pg_fixture.allow_login(server, etl_writer=ETL_PASSWORD)
        yield server


@pytest.mark.parametrize("ssl", ["true", "require", "verify-full"])
def test_tls_connection_when_dw_pg_ssl_asks(tls_server, ssl, s3, etl_handler, monkeypatch) -> None:
    """The server accepts only hostssl: a successful load proves the ETL used TLS."""
    env = {
        "RAW_BUCKET_NAME": BUCKET,
        "DW_PG_HOST": "127.0.0.1",
        "DW_PG_PORT": str(tls_server.port),
        "DW_PG_USER": "etl_writer",
        "DW_PG_PASSWORD": ETL_PASSWORD,
        "DW_PG_DATABASE": "clickstream_dw",
        "DW_PG_SSL": ssl,
        "DW_PG_SSL_ROOT_CERT": str(tls_server.ca_file),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    put_event(s3, H10, f"tls-{ssl}")
    summary = etl_handler.handler(manual(H10, H10), None)
    assert summary["rows_inserted"] == 1

    monkeypatch.setenv("DW_PG_SSL", "disable")
    with pytest.raises(psycopg2.OperationalError, match="no encryption"):
        etl_handler.handler(manual(H10, H10), None)


class LambdaContext:
    """What the Lambda runtime passes: a request id and the time left."""

    def __init__(self, remaining_ms: list[int]) -> None:
        self.aws_request_id = "req-timeout-test"
        self._remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining.pop(0) if len(self._remaining) > 1 else self._remaining[0]


def test_run_stops_before_the_lambda_times_out_and_the_rerun_finishes(
    etl_env, s3, etl_handler, monkeypatch
) -> None:
    monkeypatch.setenv("MAX_RECORDS_PER_BATCH", "5")
    expect = Expect()
    for n in range(40):
        expect.single(s3, H10, f"t-{n}", minute=n)
    context = LambdaContext([60_000, 50_000, 2_000])  # margin: min(30 s, 60 s / 5) = 12 s

    with pytest.raises(etl_handler.EtlIncompleteError, match="about to time out"):
        etl_handler.handler(manual(H10, H10), context)
    partial = len(table_ids(etl_env))
    assert 0 < partial < 40
    run = etl_env.query("SELECT status, request_id, rows_inserted FROM etl_runs")
    assert run == [("failed", "req-timeout-test", partial)]

    summary = etl_handler.handler(manual(H10, H10), LambdaContext([600_000]))
    assert summary["rows_inserted"] == 40 - partial
    assert_exact(etl_env, expect)
