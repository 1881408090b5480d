"""Every panel query of the app, run on the rollups as the read-only dw_reader, equals the
same figures computed from the raw events table (clickstream_tools.dashboard_reference),
over ranges that start, end and lie inside the loaded week and one that starts before
it (distinct visitors over several days, the previous period of the cards and of
Acquisition), with bots left out and with them (the "Include bots" switch; the loaded
week holds crawlers' sessions and a burst, shiny_test_support.bot_events).  No browser:
this checks the SQL of every panel, the browser test checks what the page shows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from clickstream_tools import dashboard_reference as reference
from shiny_test_support import (
    BURST_EVENTS,
    FIRST_DAY,
    LAST_DAY,
    READER_PASSWORD,
    REPO,
    Warehouse,
)

pytestmark = pytest.mark.integration

SQL_DIR = REPO / "roles" / "shiny" / "files" / "app" / "sql"
RANGES = (
    (FIRST_DAY, LAST_DAY),
    (date(2025, 3, 5), date(2025, 3, 5)),
    (date(2025, 3, 4), date(2025, 3, 7)),
    (date(2025, 2, 28), date(2025, 3, 4)),
)


def _rows(rows: list[tuple], pick: Callable[[tuple], tuple]) -> list[tuple]:
    return [tuple(_plain(v) for v in pick(row)) for row in rows]


def _plain(value: Any) -> Any:
    """Numbers as int where whole (the app returns float8 for R, the reference bigint)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# How each app query's rows compare with its reference query's rows: (app row -> the
# reference's columns, reference row -> the same).
SHAPES: dict[str, tuple[Callable[[tuple], tuple], Callable[[tuple], tuple]]] = {
    "overview_kpis": (lambda r: r[3:8], lambda r: r),
    "overview_daily": (lambda r: r[:5], lambda r: r),
    "overview_hourly": (lambda r: r, lambda r: r),
    "event_mix": (lambda r: r, lambda r: r),
    "funnel_steps": (lambda r: r, lambda r: r),
    "funnel_daily": (lambda r: r, lambda r: r),
    "products": (lambda r: (r[0], r[4], r[6], r[8]), lambda r: r),
    "product_categories": (lambda r: r[:3], lambda r: (r[0] or "(none)", *r[1:])),
    "journey_entry_exit": (lambda r: r[:3], lambda r: r),
    "journey_depth": (lambda r: r[1:3], lambda r: r),
    "journey_pages": (lambda r: (*r[:4], r[5]), lambda r: r),
    "journey_next_steps": (lambda r: r[:3], lambda r: r),
    "journey_paths": (lambda r: r[:3], lambda r: r),
    "acquisition_channels": (lambda r: r, lambda r: r),
    "acquisition_sources": (lambda r: r, lambda r: r),
    "acquisition_campaigns": (lambda r: r, lambda r: r),
    "technology": (lambda r: r, lambda r: r),
    "pipeline_bots": (lambda r: r, lambda r: r),
}


@pytest.fixture(scope="module")
def connections(warehouse: Warehouse) -> Any:
    app = warehouse.connect(warehouse.loaded, "dw_reader", READER_PASSWORD)
    raw = warehouse.connect(warehouse.loaded)
    yield app, raw
    app.close()
    raw.close()


def _fetch(conn: Any, text: str, first: date, last: date, bots: bool = False) -> list[tuple]:
    with conn.cursor() as cur:
        cur.execute(text, reference.params(first, last, bots))
        return cur.fetchall()


def test_every_ranged_panel_has_a_reference() -> None:
    ranged = {n for n, text in reference.app_queries(SQL_DIR).items() if "%(first)s" in text}
    assert ranged == set(SHAPES)


@pytest.mark.parametrize("bots", [False, True], ids=["without-bots", "with-bots"])
@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize(("first", "last"), RANGES, ids=lambda d: d.isoformat())
def test_panel_query_equals_raw_figures(
    connections: Any, name: str, first: date, last: date, bots: bool
):
    app, raw = connections
    app_pick, raw_pick = SHAPES[name]
    shown = _rows(_fetch(app, reference.app_queries(SQL_DIR)[name], first, last, bots), app_pick)
    expected = _rows(_fetch(raw, reference.QUERIES[name], first, last, bots), raw_pick)
    if name == "overview_kpis":
        shown = shown[:1]  # the current period; the previous one is checked below
    assert shown, f"{name} shows nothing for {first}..{last}"
    assert shown == expected


@pytest.mark.parametrize("bots", [False, True], ids=["without-bots", "with-bots"])
def test_kpis_of_the_previous_period_equal_raw_figures(connections: Any, bots: bool) -> None:
    app, raw = connections
    first, last = date(2025, 3, 7), date(2025, 3, 9)
    rows = _fetch(app, reference.app_queries(SQL_DIR)["overview_kpis"], first, last, bots)
    previous = {r[0]: r for r in rows}["previous"]
    length = (last - first).days + 1
    expected = reference.fetch(
        raw, "overview_kpis", first - timedelta(days=length), first - timedelta(days=1), bots
    )
    assert _rows([previous], lambda r: r[3:8]) == _rows(expected, lambda r: r)
    assert previous[1:3] == ("2025-03-04", "2025-03-06")


def test_the_bots_switch_adds_exactly_the_bots(connections: Any) -> None:
    """The week holds bots of both kinds, so the switch changes the figures: by the bots'
    events and sessions that Pipeline health counts, and a burst's events (a person's
    user agent) count as a person's while its session is a bot's."""
    app, raw = connections
    queries = reference.app_queries(SQL_DIR)
    kpis = {
        bots: _fetch(app, queries["overview_kpis"], FIRST_DAY, LAST_DAY, bots)[0]
        for bots in (False, True)
    }
    events, bot_events, sessions, bot_sessions = _fetch(
        app, queries["pipeline_bots"], FIRST_DAY, LAST_DAY
    )[0]
    assert bot_events > 0
    assert bot_sessions > 0
    assert kpis[True][3] == events
    assert kpis[False][3] == events - bot_events
    assert kpis[True][4] == sessions
    assert kpis[False][4] == sessions - bot_sessions
    with raw.cursor() as cur:
        cur.execute(
            "SELECT count(*) FILTER (WHERE bot_reason = 'behaviour'),"
            " count(*) FILTER (WHERE bot_reason = 'user_agent') FROM public.sessions"
        )
        behaviour, agent = cur.fetchone()
    assert behaviour >= 1  # the burst (and whatever else behaves like a bot)
    assert agent >= 1
    assert BURST_EVENTS > reference.BOT_EVENTS_PER_SECOND
