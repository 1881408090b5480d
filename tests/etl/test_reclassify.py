"""Classifying loaded events again (etl_reclassify), through the ETL handler: moto S3 in
process and a real PostgreSQL, as etl_writer.

* A site rule (ETL_EXTRA_BOT_AGENTS) added after the load: the dry run counts the rows
  that would change and writes nothing; the run changes exactly those rows and the
  rollups of their hours, which then equal a fresh refresh of everything; a second run
  changes nothing.
* Rows loaded before migration 0008 (no classification): every ETL run classifies a
  bounded number of their hours, oldest first, until none is left.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg2 import sql

from clickstream_etl import etl_classify, etl_reclassify, etl_rollups, etl_transform
from clickstream_tools import pgcluster as pg_fixture
from etl_test_helpers import (
    ETL_PASSWORD,
    MIGRATIONS,
    READER_PASSWORD,
    Database,
    hour_key,
    ingest_block,
    put_raw,
)

pytestmark = pytest.mark.integration

H10 = datetime(2024, 5, 1, 10, tzinfo=UTC)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36"
)
MONITOR = "SiteCheck-Monitor/3.1 (+https://status.example.org)"
ROLLUPS = (
    "hourly_event_counts",
    "hourly_sessions",
    "daily_session_depth",
    "daily_acquisition",
    "daily_technology",
    "daily_funnel",
    "daily_visitors",
)


def manual(first: datetime, last: datetime, **extra: Any) -> dict[str, Any]:
    return {"from": first.strftime("%Y-%m-%dT%H"), "to": last.strftime("%Y-%m-%dT%H"), **extra}


def put_session(s3, hour: datetime, session: str, agent: str, pages: int, **fields) -> None:
    """A session of ``pages`` page views, a minute apart, from one user agent."""
    events = []
    for minute in range(pages):
        block = {**ingest_block(hour + timedelta(minutes=minute)), "userAgent": agent}
        events.append(
            {
                "eventId": f"{session}-{minute}",
                "eventName": "page_view",
                "sessionId": session,
                "clientId": f"c-{session}",
                "pageUrl": f"https://shop.example/{session}/{minute}",
                "_ingest": block,
                **fields,
            }
        )
    put_raw(s3, hour_key(hour, f"{session}.json"), {"events": events})


def rollups(dw) -> dict[str, list[tuple]]:
    return {name: sorted(dw.query(f"SELECT * FROM {name}"), key=repr) for name in ROLLUPS}  # noqa: S608 - fixed names


def refreshed_from_scratch(dw) -> dict[str, list[tuple]]:
    """The rollups as one refresh of every hour computes them now (in a transaction
    rolled back: the table stays as it was)."""
    conn = dw.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"TRUNCATE {', '.join(ROLLUPS)}, sessions, visitor_days")
            cur.execute(
                "INSERT INTO etl_pending_rollups (event_hour) SELECT DISTINCT"
                " date_trunc('hour', event_timestamp) FROM clickstream_events"
                " ON CONFLICT DO NOTHING"
            )
        conn.commit()
        etl_rollups.refresh(conn, sql.Identifier("public", "clickstream_events"))
        return rollups(dw)
    finally:
        conn.close()


@pytest.fixture
def loaded(etl_env, s3, etl_handler, monkeypatch) -> Any:
    """Two hours of sessions: browsers, a known crawler, and a monitor no rule knows yet."""
    monkeypatch.delenv("ETL_EXTRA_BOT_AGENTS", raising=False)
    for hour in (H10, H10 + timedelta(hours=1)):
        put_session(s3, hour, f"human-{hour.hour}", CHROME, 3)
        put_session(s3, hour, f"monitor-{hour.hour}", MONITOR, 2)
        put_session(
            s3,
            hour,
            f"crawler-{hour.hour}",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            4,
        )
    etl_handler.handler(manual(H10, H10 + timedelta(hours=1)), None)
    return etl_env


def bots(dw) -> list[tuple]:
    return dw.query(
        "SELECT session_id, bool_and(is_bot), min(bot_reason), min(device_type)"
        " FROM clickstream_events GROUP BY 1 ORDER BY 1"
    )


def test_a_new_site_rule_reclassifies_exactly_its_rows_and_their_rollups(
    loaded, etl_handler, monkeypatch
) -> None:
    dw = loaded
    assert bots(dw) == [
        ("crawler-10", True, "user_agent", "bot"),
        ("crawler-11", True, "user_agent", "bot"),
        ("human-10", False, None, "desktop"),
        ("human-11", False, None, "desktop"),
        ("monitor-10", False, None, "other"),
        ("monitor-11", False, None, "other"),
    ]
    before, events_before = rollups(dw), dw.query("SELECT * FROM clickstream_events ORDER BY 1")
    request = manual(H10, H10 + timedelta(hours=1), action="reclassify")

    # same rules: nothing to change, nothing written
    unchanged = etl_handler.handler(request, None)
    assert (unchanged["rows_read"], unchanged["rows_reclassified"]) == (18, 0)
    assert rollups(dw) == before

    monkeypatch.setenv("ETL_EXTRA_BOT_AGENTS", "uptime-robot, sitecheck-monitor")
    dry = etl_handler.handler({**request, "dry_run": True}, None)
    assert dry["rows_reclassified"] == 4
    assert dry["class_changes"] == {"device_type: other -> bot": 4, "is_bot: False -> True": 4}
    assert dw.query("SELECT * FROM clickstream_events ORDER BY 1") == events_before

    run = etl_handler.handler(request, None)
    assert (run["rows_reclassified"], run["hours_changed"]) == (4, 2)
    assert run["rollup_hours_refreshed"] == 2
    assert [row for row in bots(dw) if row[0].startswith("monitor")] == [
        ("monitor-10", True, "user_agent", "bot"),
        ("monitor-11", True, "user_agent", "bot"),
    ]
    # only classification columns changed, and only the monitor's rows
    after = {row[0]: row for row in dw.query("SELECT * FROM clickstream_events ORDER BY 1")}
    columns = [
        row[0]
        for row in dw.query(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'clickstream_events' ORDER BY ordinal_position"
        )
    ]
    changed = {
        (row[0].split("-")[0], columns[i])
        for row in events_before
        for i, (old, new) in enumerate(zip(row, after[row[0]], strict=True))
        if old != new
    }
    assert {column for _, column in changed} <= set(etl_transform.CLASS_COLUMNS)
    assert {who for who, _ in changed} == {"monitor"}
    assert {"is_bot", "bot_reason", "device_type"} <= {column for _, column in changed}
    # the rollups moved the monitor's sessions and events to the bots, and equal a refresh
    reclassified = rollups(dw)
    assert reclassified != before
    human_sessions = dw.scalar("SELECT sum(sessions) FROM hourly_sessions WHERE NOT is_bot")
    assert human_sessions == 2
    assert reclassified == refreshed_from_scratch(dw)
    # again: nothing changes
    again = etl_handler.handler(request, None)
    assert (again["rows_reclassified"], again["rollup_hours_refreshed"]) == (0, 0)
    assert dw.scalar("SELECT count(*) FROM etl_runs WHERE trigger = 'reclassify'") == 3


def test_rows_loaded_before_0008_are_classified_a_bounded_batch_per_run(
    loaded, etl_handler, monkeypatch
) -> None:
    dw = loaded
    classified = rollups(dw)
    # as a warehouse migrated to 0008 with older rows finds them: no classification yet,
    # their hours in the backlog
    dw.query(
        "UPDATE clickstream_events SET device_type = NULL, browser_family = NULL,"
        " browser_major = NULL, os_family = NULL, is_bot = false, bot_reason = NULL,"
        " referrer_host = NULL, traffic_channel = NULL"
    )
    dw.query(
        "INSERT INTO etl_unclassified_hours SELECT DISTINCT date_trunc('hour', event_timestamp)"
        " FROM clickstream_events"
    )
    monkeypatch.setenv("ETL_CLASSIFY_HOURS_PER_RUN", "1")
    later = H10 + timedelta(hours=5)

    first = etl_handler.handler(manual(later, later), None)
    assert first["rows_reclassified"] == 9
    assert dw.query("SELECT event_hour FROM etl_unclassified_hours") == [
        (H10 + timedelta(hours=1),)
    ]
    second = etl_handler.handler(manual(later, later), None)
    assert second["rows_reclassified"] == 9
    assert dw.scalar("SELECT count(*) FROM etl_unclassified_hours") == 0
    assert dw.scalar("SELECT count(*) FROM clickstream_events WHERE device_type IS NULL") == 0
    assert rollups(dw) == classified
    third = etl_handler.handler(manual(later, later), None)
    assert third["rows_reclassified"] == 0


def test_the_classification_of_the_load_and_of_a_reclassification_agree() -> None:
    """etl_reclassify.classify is what map_event writes, column for column."""
    payload = {
        "eventName": "page_view",
        "pageUrl": "https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=may",
        "referrer": "https://mail.example.net/",
        "_ingest": {**ingest_block(H10), "userAgent": CHROME},
    }
    values = etl_transform.map_event(payload, key="k", index=0, last_modified=None).values
    expected = etl_reclassify.classify(CHROME, payload["pageUrl"], payload["referrer"])
    assert tuple(values[c] for c in etl_transform.CLASS_COLUMNS) == expected
    assert etl_classify.classify_agent(CHROME).device_type == "desktop"


def test_migration_0008_classifies_a_warehouse_that_already_holds_events(pg_server, tmp_path):
    """A warehouse at 0007 with events: 0008 lists their hours once, and the ETL's
    backlog step classifies them; the rollups then split people and bots."""
    before = tmp_path / "migrations"
    before.mkdir()
    for path in sorted(MIGRATIONS.glob("000[1-7]_*.sql")):
        shutil.copy(path, before)
    name = "clickstream_dw_0007"
    pg_server.create_database(name)
    try:
        pg_fixture.apply_migrations(pg_server, name, before)
        pg_fixture.allow_login(pg_server, etl_writer=ETL_PASSWORD, dw_reader=READER_PASSWORD)
        dw = Database(pg_server, name)
        agents = [CHROME, "curl/8.5.0", CHROME, "Mozilla/5.0 (compatible; bingbot/2.0)"]
        dw.query(
            "INSERT INTO clickstream_events (event_id, event_timestamp, event_name, session_id,"
            " client_id, page_url, ingest_metadata, event_timestamp_source, source_object_key,"
            " source_event_index)"
            " SELECT 'e' || i, %s::timestamptz + i * interval '20 minutes', 'page_view',"
            " 's' || i, 'c' || i, 'https://shop.example/' || i,"
            " jsonb_build_object('userAgent', (%s::text[])[i %% 4 + 1]), 'ingest', 'k', i"
            " FROM generate_series(0, 7) AS i",
            (H10, agents),
        )
        migration = MIGRATIONS / "0008_visitor_classification.sql"
        pg_server.psql(name, "-1", "-f", str(migration))
        hours = [H10 + timedelta(hours=n) for n in range(3)]
        assert [row[0] for row in dw.query("SELECT * FROM etl_unclassified_hours ORDER BY 1")] == (
            hours
        )
        pg_server.psql(name, "-1", "-f", str(migration))  # again: queues nothing more

        conn = dw.connect("etl_writer", ETL_PASSWORD)
        try:
            target = sql.Identifier("public", "clickstream_events")
            done = etl_reclassify.backfill(conn, target, max_hours=24)
            assert (done.hours, done.rows_reclassified) == (3, 8)
            assert etl_reclassify.backfill(conn, target).hours == 0
            etl_rollups.refresh(conn, target)
        finally:
            conn.close()
        assert dw.query(
            "SELECT is_bot, sum(sessions) FROM hourly_sessions GROUP BY 1 ORDER BY 1"
        ) == [(False, 4), (True, 4)]
    finally:
        pg_server.drop_database(name)
