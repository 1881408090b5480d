"""The session rollups of migration 0005 and the one-pass funnel, on a real PostgreSQL.

Generated sessions (clickstream_tools.datagen) plus hand-made edge cases (sessionless visitors split
by 30 minutes of inactivity, a late event moving a session's start to the day before, a
late first visit changing a later day's previous visit, steps at the same moment, no ids
at all) are loaded in six-hour runs with some events held back and loaded late, then an
hour is refreshed again with nothing new.  Every rollup table then equals what an
independent Python computation from the raw events gives, and equals a single refresh
of everything at once; the funnel equals the self-join the ETL used before.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql
from psycopg2.extras import execute_values

from clickstream_etl import etl_classify, etl_rollups
from clickstream_tools import datagen
from etl_test_helpers import ETL_PASSWORD, MIGRATIONS

pytestmark = pytest.mark.integration

TARGET = sql.Identifier("public", "clickstream_events")
# The expected figures below walk the generator's funnel, which is the warehouse's
# (public.funnel_steps, migration 0006): test_the_generated_journeys_follow_the_funnel.
FUNNEL = datagen.FUNNEL
COLUMNS = (
    "event_id",
    "event_timestamp",
    "event_name",
    "user_id",
    "client_id",
    "session_id",
    "page_url",
    "context_product_id",
    # the classification the load writes (etl_classify), which the refresh reads
    "is_bot",
    "bot_reason",
    "device_type",
    "browser_family",
    "os_family",
    "traffic_channel",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referrer_host",
)
IS_BOT, _, DEVICE, BROWSER, OS, CHANNEL, UTM_SOURCE, UTM_MEDIUM, UTM_CAMPAIGN, REFERRER_HOST = (
    range(8, 18)
)
PAGE_EVENTS = ("page_view", "home_view", "category_view", "product_view")
# Every table the refresh maintains, in a stable order (sessions without updated_at).
SNAPSHOTS = {
    "sessions": "SELECT session_key, session_id, is_derived, visitor_key, client_id, user_id,"
    " started_at, ended_at, duration_seconds, event_count, page_views, product_views,"
    " add_to_cart, entry_page, exit_page, first_event_name, last_event_name, is_first_visit,"
    " checkout_started, converted, is_bot, bot_reason, device_type, browser_family, os_family,"
    " traffic_channel, source, medium, campaign FROM sessions ORDER BY 1",
    "hourly_event_counts": "SELECT * FROM hourly_event_counts ORDER BY 1, 2",
    "daily_product_engagement": "SELECT * FROM daily_product_engagement ORDER BY 1, 2",
    "daily_funnel": "SELECT * FROM daily_funnel ORDER BY 1, 2",
    "hourly_sessions": "SELECT * FROM hourly_sessions ORDER BY 1",
    "visitor_days": "SELECT * FROM visitor_days ORDER BY 1, 2",
    "daily_visitors": "SELECT * FROM daily_visitors ORDER BY 1, 2 NULLS FIRST",
    "daily_session_depth": "SELECT * FROM daily_session_depth ORDER BY 1, 2",
    "daily_session_entry_exit": "SELECT * FROM daily_session_entry_exit ORDER BY 1, 2, 3",
    "daily_entry_pages": "SELECT * FROM daily_entry_pages ORDER BY 1, 2 NULLS FIRST",
    "daily_entry_exit_pages": "SELECT * FROM daily_entry_exit_pages ORDER BY 1, 2 NULLS FIRST, 3",
    "daily_event_transitions": "SELECT * FROM daily_event_transitions ORDER BY 1, 2, 3",
    "daily_session_paths": "SELECT * FROM daily_session_paths ORDER BY 1, 2",
    "daily_acquisition": "SELECT * FROM daily_acquisition ORDER BY 1, 2, 3, 4, 5, 6",
    "daily_technology": "SELECT * FROM daily_technology ORDER BY 1, 2, 3, 4, 5",
}
DAY1 = datetime(2025, 3, 1, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------------
def classified(page_url: str | None, referrer: str | None, user_agent: str | None) -> tuple:
    """The classification columns of an event, as the load writes them."""
    agent = etl_classify.classify_agent(user_agent)
    source = etl_classify.classify_source(page_url, referrer)
    return (
        agent.is_bot,
        "user_agent" if agent.is_bot else None,
        agent.device_type,
        agent.browser_family,
        agent.os_family,
        source.traffic_channel,
        source.utm_source,
        source.utm_medium,
        source.utm_campaign,
        source.referrer_host,
    )


def _event(event_id: str, at: datetime, name: str, **ids: str | None) -> tuple:
    return (
        event_id,
        at,
        name,
        ids.get("user_id"),
        ids.get("client_id"),
        ids.get("session_id"),
        ids.get("page_url"),
        None,
        *classified(ids.get("page_url"), ids.get("referrer"), ids.get("user_agent")),
    )


def generated_events() -> list[tuple]:
    config = datagen.Config(seed=5, events=1800, start=DAY1.date(), days=3)
    rows = []
    for e in datagen.Generator(config).events():
        at = datetime.fromisoformat(e["_ingest"]["receivedAt"].replace("Z", "+00:00"))
        product = e.get("product") or {}
        rows.append(
            (
                e["eventId"],
                at,
                e["eventName"],
                e.get("userId"),
                e.get("clientId"),
                e.get("sessionId"),
                e.get("pageUrl"),
                product.get("id"),
                *classified(e.get("pageUrl"), e.get("referrer"), e["_ingest"].get("userAgent")),
            )
        )
    return rows


def edge_events() -> tuple[list[tuple], list[tuple]]:
    """(on time, late): hand-made cases the generated data does not have."""
    d2 = DAY1 + timedelta(days=1)
    m = timedelta(minutes=1)
    on_time = [
        # sessionless visitor: a 40-minute gap splits two derived sessions on day 2
        _event("v1-a", d2 + 600 * m, "home_view", client_id="v1", page_url="/"),
        _event("v1-b", d2 + 605 * m, "category_view", client_id="v1", page_url="/c"),
        _event("v1-c", d2 + 645 * m, "page_view", client_id="v1", page_url="/x"),
        # a session just after midnight of day 2; a late event will start it on day 1
        _event("mv-a", d2 + 10 * m, "product_view", session_id="mv", client_id="v2", page_url="/p"),
        _event("mv-b", d2 + 20 * m, "add_to_cart_click", session_id="mv", client_id="v2"),
        # steps at the same moment (category's id sorts first) and repeated steps
        _event("tie-b", d2 + 720 * m, "home_view", session_id="tie", client_id="v3"),
        _event("tie-a", d2 + 720 * m, "category_view", session_id="tie", client_id="v3"),
        _event("rep-1", d2 + 730 * m, "home_view", session_id="rep", user_id="u4"),
        _event("rep-2", d2 + 731 * m, "product_view", session_id="rep", user_id="u4"),
        _event("rep-3", d2 + 732 * m, "category_view", session_id="rep", user_id="u4"),
        _event("rep-4", d2 + 733 * m, "product_view", session_id="rep", user_id="u4"),
        # no ids at all: an event, but no session, visitor or unit
        _event("anon", d2 + 700 * m, "home_view", page_url="/"),
        # bots by behaviour: more than 10 events within one second; no page at all
        *(
            _event(
                f"burst-{i}",
                d2 + 800 * m + i * timedelta(milliseconds=50),
                "page_view",
                session_id="burst",
                client_id="v5",
                page_url=f"/b/{i}",
            )
            for i in range(12)
        ),
        _event("api-1", d2 + 810 * m, "add_to_cart_click", session_id="api", client_id="v6"),
        _event("api-2", d2 + 811 * m, "checkout_start", session_id="api", client_id="v6"),
        # a crawler by its user agent, landing from a campaign on another device
        _event(
            "crawl-1",
            d2 + 820 * m,
            "home_view",
            session_id="crawl",
            client_id="v7",
            page_url="https://shop.example.com/?utm_source=news&utm_medium=email",
            user_agent="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        ),
        _event(
            "crawl-2",
            d2 + 821 * m,
            "product_view",
            session_id="crawl",
            client_id="v7",
            page_url="https://shop.example.com/p/1",
        ),
    ]
    late = [
        # v1's first visit, the day before: day 2's previous visit changes
        _event("v1-z", d2 - 30 * m, "home_view", client_id="v1", page_url="/early"),
        # moves session mv's start to day 1, 23:55
        _event("mv-z", d2 - 5 * m, "home_view", session_id="mv", client_id="v2", page_url="/"),
        # bridges v1's gap: the two derived sessions of day 2 become one
        _event("v1-g", d2 + 625 * m, "page_view", client_id="v1", page_url="/g"),
    ]
    return on_time, late


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


# ---------------------------------------------------------------------------------------------
# database
# ---------------------------------------------------------------------------------------------
def insert(dw: Any, rows: list[tuple]) -> None:
    """Insert events (as the load does) and queue their hours."""
    conn = dw.connect()
    try:
        with conn.cursor() as cur:
            execute_values(
                cur,
                f"INSERT INTO clickstream_events ({', '.join(COLUMNS)}, event_timestamp_source,"  # noqa: S608 - fixed column names
                " source_object_key, source_event_index) VALUES %s",
                [(*row, "ingest", "events/test", 0) for row in rows],
            )
        queue(dw, sorted({hour_of(row[1]) for row in rows}))
    finally:
        conn.close()


def queue(dw: Any, hours: list[datetime]) -> None:
    dw.query(
        "INSERT INTO etl_pending_rollups (event_hour) SELECT unnest(%s::timestamptz[])"
        " ON CONFLICT DO NOTHING",
        (hours,),
    )


def refresh(dw: Any, *, helper: bool = True) -> list[datetime]:
    """The ETL's refresh, as etl_writer (its grants must be enough).

    ``helper``: on two connections, as the handler runs it after a load on two.
    """
    connections = [
        psycopg2.connect(dw.server.dsn(dw.name, "etl_writer", ETL_PASSWORD))
        for _ in range(2 if helper else 1)
    ]
    first, *second = connections
    try:
        return etl_rollups.refresh(first, TARGET, helper=second[0] if second else None)
    finally:
        for conn in connections:
            conn.close()


def snapshot(dw: Any) -> dict[str, list[tuple]]:
    """Every table's rows, in a total order (the queries' ORDER BY leaves is_bot out)."""
    return {name: sorted(dw.query(text), key=none_first) for name, text in SNAPSHOTS.items()}


def load_incrementally(dw: Any, rows: list[tuple], late: list[tuple]) -> None:
    """Six-hour runs in time order, then the late events, then an hour again."""
    by_run: dict[datetime, list[tuple]] = defaultdict(list)
    for row in rows:
        at = row[1]
        by_run[at.replace(hour=at.hour // 6 * 6, minute=0, second=0, microsecond=0)].append(row)
    for start in sorted(by_run):
        insert(dw, by_run[start])
        assert refresh(dw)
    insert(dw, late)
    assert refresh(dw) == sorted({hour_of(row[1]) for row in late})
    queue(dw, [DAY1 + timedelta(hours=30)])
    assert refresh(dw) == [DAY1 + timedelta(hours=30)]
    assert refresh(dw) == []


@pytest.fixture(scope="module")
def events() -> tuple[list[tuple], list[tuple], list[tuple]]:
    """(all events, loaded on time, loaded late): every 9th generated event is late."""
    generated = generated_events()
    on_time_edges, late_edges = edge_events()
    late = [row for i, row in enumerate(generated) if i % 9 == 4] + late_edges
    late_ids = {row[0] for row in late}
    on_time = [row for row in generated + on_time_edges if row[0] not in late_ids]
    return on_time + late, on_time, late


# ---------------------------------------------------------------------------------------------
# the same figures, computed in Python from the raw events
# ---------------------------------------------------------------------------------------------
def _visitor(row: tuple) -> str | None:
    return row[4] or row[3]


def _seconds(delta: timedelta) -> int:
    """extract(epoch ...)::integer: rounded half away from zero."""
    return int(Decimal(str(delta.total_seconds())).quantize(Decimal(1), ROUND_HALF_UP))


def sessions_of(rows: list[tuple]) -> list[dict[str, Any]]:
    groups: dict[str, list[tuple]] = defaultdict(list)
    sessionless: dict[str, list[tuple]] = defaultdict(list)
    for row in rows:
        if row[5] is not None:
            groups[f"s:{row[5]}"].append(row)
        elif _visitor(row) is not None:
            sessionless[_visitor(row)].append(row)
    for visitor, events in sessionless.items():
        events.sort(key=lambda r: (r[1], r[0]))
        current: list[tuple] = []
        for row in events:
            if current and row[1] - current[-1][1] > timedelta(minutes=30):
                groups[f"d:{visitor}:{current[0][1]}"] = current
                current = []
            current.append(row)
        groups[f"d:{visitor}:{current[0][1]}"] = current
    sessions = []
    for events in groups.values():
        events.sort(key=lambda r: (r[1], r[0]))
        visitors = [_visitor(r) for r in events if _visitor(r) is not None]
        pages = [r[6] for r in events if r[6] is not None]
        per_second: dict[datetime, int] = defaultdict(int)
        for r in events:
            per_second[r[1].replace(microsecond=0)] += 1
        agent_bot = any(r[IS_BOT] for r in events)
        behaviour_bot = max(per_second.values()) > etl_rollups.BOT_EVENTS_PER_SECOND or (
            not pages and not any(r[2] in PAGE_EVENTS for r in events)
        )
        landing = events[0]
        channel = landing[CHANNEL] or "direct"
        medium = {"direct": "(none)", "organic_search": "organic", "internal": "(internal)"}
        sessions.append(
            {
                "bot": agent_bot or behaviour_bot,
                "bot_reason": "user_agent" if agent_bot else "behaviour" if behaviour_bot else None,
                "acquisition": (
                    channel,
                    landing[UTM_SOURCE] or landing[REFERRER_HOST] or "(direct)",
                    landing[UTM_MEDIUM] or medium.get(channel, "referral"),
                    landing[UTM_CAMPAIGN] or "(not set)",
                ),
                "technology": (
                    landing[DEVICE] or "other",
                    landing[BROWSER] or "(unknown)",
                    landing[OS] or "(unknown)",
                ),
                "add_to_cart": any(r[2] == "add_to_cart_click" for r in events),
                "checkout_started": any(r[2] == "checkout_start" for r in events),
                "start": events[0][1],
                "visitor": visitors[0] if visitors else None,
                "events": len(events),
                "converted": any(r[2] == "checkout_complete" for r in events),
                "duration": _seconds(events[-1][1] - events[0][1]),
                "first": events[0][2],
                "last": events[-1][2],
                "entry": pages[0] if pages else None,
                "exit": pages[-1] if pages else None,
            }
        )
    return sessions


def none_first(row: tuple) -> tuple:
    return tuple((value is not None, value) for value in row)


def count_rows(groups: dict[tuple, list[int]]) -> list[tuple]:
    return sorted((*key, *values) for key, values in groups.items())


def add(groups: dict[tuple, list[int]], key: tuple, *values: int) -> None:
    totals = groups.setdefault(key, [0] * len(values))
    for i, value in enumerate(values):
        totals[i] += value


def expected_session_rollups(rows: list[tuple]) -> dict[str, list[tuple]]:
    """Every session rollup, split by the session's class (is_bot: the tables' last
    column, second in the two tables of 0008)."""
    hourly: dict[tuple, list[int]] = {}
    visitors: dict[tuple, set[str]] = defaultdict(set)
    depth: dict[tuple, list[int]] = {}
    entry_exit: dict[tuple, list[int]] = {}
    entry_pages: dict[tuple, list[int]] = {}
    exit_pages: dict[tuple, list[int]] = {}
    acquisition: dict[tuple, list[int]] = {}
    technology: dict[tuple, list[int]] = {}
    for s in sessions_of(rows):
        hour, day, converted = hour_of(s["start"]), s["start"].date(), int(s["converted"])
        bot, bounced = s["bot"], int(s["events"] == 1)
        add(hourly, (hour, bot), 1, converted, bounced, s["duration"])
        add(depth, (day, min(s["events"], 20), bot), 1, converted)
        add(entry_exit, (day, s["first"], s["last"], bot), 1, converted, s["events"])
        add(entry_pages, (day, s["entry"], bot), 1, bounced, converted, s["duration"])
        if s["exit"] is not None:
            add(exit_pages, (day, s["entry"], s["exit"], bot), 1)
        steps = (int(s["add_to_cart"]), int(s["checkout_started"]), converted)
        add(acquisition, (day, bot, *s["acquisition"]), 1, bounced, *steps)
        add(technology, (day, bot, *s["technology"]), 1, *steps)
        for key in (
            (hour, bot),
            ("acquisition", day, bot, *s["acquisition"]),
            ("technology", day, bot, *s["technology"]),
        ):
            if s["visitor"] is not None:
                visitors[key].add(s["visitor"])
            else:
                visitors.setdefault(key, set())
    return {
        "hourly_sessions": [
            (hour, sessions, len(visitors[hour, bot]), converted, bounced, duration, bot)
            for (hour, bot), (sessions, converted, bounced, duration) in hourly.items()
        ],
        "daily_session_depth": [(day, d, *v, bot) for (day, d, bot), v in depth.items()],
        "daily_session_entry_exit": [
            (day, first, last, *v, bot) for (day, first, last, bot), v in entry_exit.items()
        ],
        "daily_entry_pages": [(day, page, *v, bot) for (day, page, bot), v in entry_pages.items()],
        "daily_entry_exit_pages": [
            (day, entry, exit_, *v, bot) for (day, entry, exit_, bot), v in exit_pages.items()
        ],
        "daily_acquisition": [
            (*key, sessions, len(visitors[("acquisition", *key)]), *rest)
            for key, (sessions, *rest) in acquisition.items()
        ],
        "daily_technology": [
            (*key, sessions, len(visitors[("technology", *key)]), *rest)
            for key, (sessions, *rest) in technology.items()
        ],
    }


def expected_by_unit(rows: list[tuple]) -> dict[str, list[tuple]]:
    """Funnel, transitions, paths: per UTC day and session unit (sessionId, else visitor)."""
    units: dict[tuple, list[tuple]] = defaultdict(list)
    events_per_step: dict[tuple, list[int]] = {}
    for row in rows:
        day, bot = row[1].date(), row[IS_BOT]
        unit = row[5] if row[5] is not None else (f"v:{_visitor(row)}" if _visitor(row) else None)
        if row[2] in FUNNEL:
            add(events_per_step, (day, FUNNEL.index(row[2]) + 1, bot), 1)
        if unit is not None:
            units[(day, bot, unit)].append(row)
    transitions: dict[tuple, list[int]] = {}
    paths: dict[tuple, list[int]] = {}
    with_step: dict[tuple, list[int]] = {}
    in_order: dict[tuple, list[int]] = {}
    for (day, bot, _unit), events in units.items():
        events.sort(key=lambda r: (r[1], r[0]))
        names = [r[2] for r in events]
        for here, after in zip(names, [*names[1:], "(exit)"], strict=True):
            add(transitions, (day, here, after, bot), 1)
        path = " → ".join(names[:4]) + (" → …" if len(names) > 4 else "")
        add(paths, (day, path, bot), 1, int("checkout_complete" in names))
        steps = sorted((r[1], FUNNEL.index(r[2]) + 1) for r in events if r[2] in FUNNEL)
        for step in {s for _, s in steps}:
            add(with_step, (day, step, bot), 1)
        reached = 0
        for _, step in steps:
            if step == reached + 1:
                reached = step
        for step in range(1, reached + 1):
            add(in_order, (day, step, bot), 1)
    days = sorted({row[1].date() for row in rows})
    funnel = [
        (
            day,
            step,
            FUNNEL[step - 1],
            events_per_step.get((day, step, bot), [0])[0],
            with_step.get((day, step, bot), [0])[0],
            in_order.get((day, step, bot), [0])[0],
            bot,
        )
        for day in days
        for step in range(1, 7)
        for bot in (False, True)
    ]
    return {
        "daily_event_transitions": [(*k[:3], *v, k[3]) for k, v in transitions.items()],
        "daily_session_paths": [(*k[:2], *v, k[2]) for k, v in paths.items()],
        "daily_funnel": funnel,
    }


def distinct_visitors(rows: list[tuple], first: date, last: date, bot: bool) -> int:
    return len(
        {
            s["visitor"]
            for s in sessions_of(rows)
            if s["visitor"] is not None and first <= s["start"].date() <= last and s["bot"] == bot
        }
    )


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------
def test_incremental_rollups_equal_the_figures_of_the_raw_events(dw, events) -> None:
    everything, on_time, late = events
    load_incrementally(dw, on_time, late)
    tables = snapshot(dw)

    expected = {**expected_session_rollups(everything), **expected_by_unit(everything)}
    for name, rows in expected.items():
        assert sorted(tables[name], key=none_first) == sorted(rows, key=none_first), name
        assert rows, name
    days = sorted({row[1].date() for row in everything})
    for i, first in enumerate(days):
        for last in days[i:]:
            for bot in (False, True):
                counted = dw.scalar(
                    "SELECT coalesce(sum(visitors), 0) FROM daily_visitors WHERE day BETWEEN"
                    " %(a)s AND %(b)s AND (previous_day IS NULL OR previous_day < %(a)s)"
                    " AND is_bot = %(bot)s",
                    {"a": first, "b": last, "bot": bot},
                )
                assert counted == distinct_visitors(everything, first, last, bot), (first, last)
    # the cases the late events were for
    d2 = (DAY1 + timedelta(days=1)).date()
    assert ("v1", d2, DAY1.date(), 1, False) in tables["visitor_days"]
    # bots: by the user agent of one event, by a burst, by no page at all
    classes = {row[0]: row[20:22] for row in tables["sessions"]}
    assert classes["s:crawl"] == (True, "user_agent")
    assert classes["s:burst"] == (True, "behaviour")
    assert classes["s:api"] == (True, "behaviour")
    assert classes["s:tie"] == (False, None)
    humans = [s for s in sessions_of(everything) if not s["bot"]]
    assert sum(r[1] for r in tables["hourly_sessions"] if not r[-1]) == len(humans)
    assert 0 < sum(r[1] for r in tables["hourly_sessions"] if r[-1]) < len(humans)
    mv = next(s for s in tables["sessions"] if s[0] == "s:mv")
    assert mv[6] == DAY1 + timedelta(days=1, minutes=-5)
    assert dw.scalar("SELECT count(*) FROM sessions WHERE visitor_key = 'v1' AND is_derived") == 2


def test_incremental_rollups_equal_one_refresh_of_everything(dw, events) -> None:
    everything, on_time, late = events
    load_incrementally(dw, on_time, late)
    incremental = snapshot(dw)

    dw.query(f"TRUNCATE {', '.join(SNAPSHOTS)}")
    queue(dw, sorted({hour_of(row[1]) for row in everything}))
    refresh(dw, helper=False)
    assert snapshot(dw) == incremental
    assert all(incremental[name] for name in SNAPSHOTS), "a rollup stayed empty"


@pytest.mark.parametrize("failing", ["session chain", "event chain"])
def test_a_refresh_that_fails_in_either_connection_keeps_the_queue(dw, events, failing) -> None:
    """Whichever half fails, nothing is lost: the hours stay queued for the next refresh."""
    everything, _, _ = events
    insert(dw, everything)
    hours = sorted({hour_of(row[1]) for row in everything})
    table = "sessions" if failing == "session chain" else "daily_funnel"
    conn, helper = (
        psycopg2.connect(dw.server.dsn(dw.name, "etl_writer", ETL_PASSWORD)) for _ in range(2)
    )
    try:
        # the failing half finds its table locked for longer than it may wait
        blocker = psycopg2.connect(dw.server.dsn(dw.name))
        try:
            with blocker.cursor() as cur:
                cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
                for session in (conn, helper):
                    with session, session.cursor() as own:
                        own.execute("SET lock_timeout = '200ms'")
                with pytest.raises(psycopg2.errors.LockNotAvailable):
                    etl_rollups.refresh(conn, TARGET, helper=helper)
        finally:
            blocker.close()
    finally:
        conn.close()
        helper.close()
    assert dw.scalar("SELECT count(*) FROM etl_pending_rollups") == len(hours)
    assert dw.scalar("SELECT count(*) FROM sessions") == 0
    # the event chain commits before the session chain: there it did, and is redone below
    assert bool(dw.scalar("SELECT count(*) FROM daily_funnel")) == (failing == "session chain")

    assert refresh(dw) == hours
    complete = snapshot(dw)
    expected = {**expected_session_rollups(everything), **expected_by_unit(everything)}
    for name, rows in expected.items():
        assert sorted(complete[name], key=none_first) == sorted(rows, key=none_first), name


# The strict funnel as the ETL computed it before the one-pass rewrite: a self-join of each
# step's earliest time on the previous step's (quadratic in a day's session units).
SELF_JOIN_FUNNEL = """
WITH steps AS (
    SELECT f.step_no, f.step_name FROM public.funnel_steps f
), ev AS (
    -- a unit's bot and other events are two units (0008)
    SELECT d.day, d.unit || ':' || d.is_bot AS unit, d.event_timestamp, st.step_no
    FROM etl_day_events d JOIN steps st ON st.step_name = d.event_name
), s1 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached FROM ev
    WHERE ev.step_no = 1 AND ev.unit IS NOT NULL GROUP BY 1, 2
), s2 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached
    FROM ev JOIN s1 p ON (p.day, p.unit) = (ev.day, ev.unit) AND ev.event_timestamp >= p.reached
    WHERE ev.step_no = 2 GROUP BY 1, 2
), s3 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached
    FROM ev JOIN s2 p ON (p.day, p.unit) = (ev.day, ev.unit) AND ev.event_timestamp >= p.reached
    WHERE ev.step_no = 3 GROUP BY 1, 2
), s4 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached
    FROM ev JOIN s3 p ON (p.day, p.unit) = (ev.day, ev.unit) AND ev.event_timestamp >= p.reached
    WHERE ev.step_no = 4 GROUP BY 1, 2
), s5 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached
    FROM ev JOIN s4 p ON (p.day, p.unit) = (ev.day, ev.unit) AND ev.event_timestamp >= p.reached
    WHERE ev.step_no = 5 GROUP BY 1, 2
), s6 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached
    FROM ev JOIN s5 p ON (p.day, p.unit) = (ev.day, ev.unit) AND ev.event_timestamp >= p.reached
    WHERE ev.step_no = 6 GROUP BY 1, 2
), in_order AS (
              SELECT day, 1 AS step_no, count(*) AS n FROM s1 GROUP BY day
    UNION ALL SELECT day, 2, count(*) FROM s2 GROUP BY day
    UNION ALL SELECT day, 3, count(*) FROM s3 GROUP BY day
    UNION ALL SELECT day, 4, count(*) FROM s4 GROUP BY day
    UNION ALL SELECT day, 5, count(*) FROM s5 GROUP BY day
    UNION ALL SELECT day, 6, count(*) FROM s6 GROUP BY day
)
SELECT day, step_no, n FROM in_order ORDER BY 1, 2
"""


def test_one_pass_funnel_equals_the_former_self_join(dw, events) -> None:
    everything, _on_time, _late = events
    insert(dw, everything)
    hours = refresh(dw)
    conn = dw.connect()
    conn.autocommit = False
    try:
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL(etl_rollups.DAY_EVENTS_SQL).format(target=TARGET),
                etl_rollups.parameters(hours),
            )
            cur.execute(SELF_JOIN_FUNNEL)
            former = cur.fetchall()
    finally:
        conn.rollback()
        conn.close()
    one_pass = dw.query(
        "SELECT day, step_no, sum(sessions_in_order) FROM daily_funnel"
        " GROUP BY 1, 2 HAVING sum(sessions_in_order) > 0 ORDER BY 1, 2"
    )
    assert one_pass == former
    assert {row[1] for row in one_pass} == {1, 2, 3, 4, 5, 6}


def test_the_generated_journeys_follow_the_funnel(dw_readonly) -> None:
    """The warehouse's funnel (one definition, migration 0006) is the generator's."""
    assert dw_readonly.query("SELECT step_name FROM funnel_steps ORDER BY step_no") == [
        (step,) for step in FUNNEL
    ]


# The tables of migration 0005 (the others are 0004's).
NEW_IN_0005 = tuple(
    set(SNAPSHOTS) - {"sessions", "hourly_event_counts", "daily_product_engagement", "daily_funnel"}
)


def test_migration_0005_queues_a_warehouse_with_data_for_the_etl_once(dw, events) -> None:
    """A warehouse migrated to 0004 with data gets the same tables the ETL would keep.

    The migration fills nothing itself: it queues every hour with events, and the
    ETL's own refresh fills the tables.
    """
    everything, on_time, late = events
    load_incrementally(dw, on_time, late)
    kept_by_the_etl = snapshot(dw)
    # the warehouse as it was before 0005: its tables empty, the file not recorded
    dw.query(f"TRUNCATE {', '.join(NEW_IN_0005)}")
    dw.query("DELETE FROM schema_migrations WHERE filename = '0005_session_rollups.sql'")
    migration = MIGRATIONS / "0005_session_rollups.sql"

    dw.server.psql(dw.name, "-1", "-f", str(migration))
    every_hour = sorted({hour_of(row[1]) for row in everything})
    assert refresh(dw) == every_hour
    assert snapshot(dw) == kept_by_the_etl
    # applied again (recorded by now): nothing is queued
    dw.server.psql(dw.name, "-1", "-f", str(migration))
    assert refresh(dw) == []
    assert snapshot(dw) == kept_by_the_etl
