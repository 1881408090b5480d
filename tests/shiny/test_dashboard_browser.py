"""The dashboards in headless Chromium, on a warehouse loaded through the real ETL.

Every tab renders without an error; the figures of the Overview, Acquisition,
Technology and Funnel tabs and Pipeline health's bot share equal the same figures
computed in SQL from the raw events table (clickstream_tools.dashboard_reference);
the date filter changes them, and so does "Include bots" by the bots' share; an empty
warehouse says so plainly.  The app runs as a login that may not read the raw
events table at all, which proves no panel scans it.  Screenshots of every tab go
to .state/screenshots/.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from clickstream_tools import dashboard_reference as reference
from dashboard_page import (
    TABS,
    include_bots,
    kpi,
    open_tab,
    output_errors,
    read_table,
    rendered,
    set_dates,
    validation_messages,
    wait_idle,
)
from shiny_test_support import FIRST_DAY, LAST_DAY, READER_PASSWORD, Warehouse

pytestmark = pytest.mark.integration

PROBE_ROLE = "dashboards_probe"
# What the dashboards may read: the rollups and the ETL's bookkeeping, neither the
# events nor the sessions row by row.
PROBE_TABLES = (
    "hourly_event_counts",
    "hourly_sessions",
    "daily_visitors",
    "daily_session_depth",
    "daily_session_entry_exit",
    "daily_entry_pages",
    "daily_entry_exit_pages",
    "daily_event_transitions",
    "daily_session_paths",
    "daily_funnel",
    "daily_product_engagement",
    "daily_acquisition",
    "daily_technology",
    "etl_runs",
    "etl_manifest",
    "etl_rejects",
    "etl_pending_rollups",
)
# Chromium's request for /favicon.ico, which the app does not serve.
HARMLESS_CONSOLE = ("favicon.ico",)


def number(text: str) -> int:
    return int(text.replace(",", ""))


def percent(part: int, whole: int, digits: int = 1) -> str:
    """A share as the app prints it (fmt_pct), a dash when there is no whole."""
    return f"{100 * part / whole:.{digits}f}%" if whole else "\u2013"


def console_errors(driver: Any) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and not any(h in entry["message"] for h in HARMLESS_CONSOLE)
    ]


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def probe_login(warehouse: Warehouse) -> dict[str, str]:
    """A login that reads the rollups and bookkeeping only: no raw events."""
    password = "dashboards-probe-password"
    statements = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PROBE_ROLE}') "
        f"THEN CREATE ROLE {PROBE_ROLE} LOGIN PASSWORD '{password}'; END IF; END $$",
        f'GRANT CONNECT ON DATABASE "{warehouse.loaded}" TO {PROBE_ROLE}',
        f"GRANT USAGE ON SCHEMA public TO {PROBE_ROLE}",
        f"GRANT SELECT ON {', '.join('public.' + t for t in PROBE_TABLES)} TO {PROBE_ROLE}",
    ]
    warehouse.server.psql(warehouse.loaded, *[a for s in statements for a in ("-c", s)])
    env = warehouse.reader_env(warehouse.loaded)
    env.update(DW_PG_USER=PROBE_ROLE, DW_PG_PASSWORD=password)
    return env


@pytest.fixture(scope="module")
def loaded_page(start_app: Any, browser: Any, probe_login: dict[str, str]) -> Any:
    app = start_app(probe_login)
    browser.get(app.url)
    wait_idle(browser)
    browser.app_log = app.log
    return browser


@pytest.fixture(scope="module")
def raw(warehouse: Warehouse) -> Any:
    conn = warehouse.connect(warehouse.loaded)
    yield conn
    conn.close()


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------
def test_probe_login_cannot_read_raw_events(warehouse: Warehouse, probe_login: dict[str, str]):
    import psycopg2

    conn = warehouse.connect(warehouse.loaded, PROBE_ROLE, probe_login["DW_PG_PASSWORD"])
    try:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege), conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM public.clickstream_events")
    finally:
        conn.close()


def test_every_tab_renders_without_error(loaded_page: Any, screenshots: Path):
    from selenium.webdriver.common.by import By

    for tab in TABS:
        open_tab(loaded_page, tab)
        loaded_page.save_screenshot(str(screenshots / f"{tab}.png"))
        pane = loaded_page.find_element(By.CSS_SELECTOR, ".tab-pane.active")
        assert pane.get_attribute("data-value") == tab
        assert output_errors(loaded_page) == [], tab
        assert validation_messages(loaded_page) == [], tab
        shown = rendered(loaded_page)
        assert shown["plots"], f"{tab} shows no chart"
        assert shown["table_rows"], f"{tab} shows no table row"
    assert console_errors(loaded_page) == []
    log = Path(loaded_page.app_log).read_text()
    assert "Error" not in log, log


def test_overview_figures_equal_sql(loaded_page: Any, raw: Any):
    open_tab(loaded_page, "overview")
    events, sessions, visitors, converted, bounced = reference.fetch(
        raw, "overview_kpis", FIRST_DAY, LAST_DAY
    )[0]
    # the whole loaded week is in the default range: every event, the bots' left out
    with raw.cursor() as cur:
        cur.execute("SELECT count(*), count(*) FILTER (WHERE NOT is_bot) FROM clickstream_events")
        assert cur.fetchone() == (
            reference.fetch(raw, "overview_kpis", FIRST_DAY, LAST_DAY, bots=True)[0][0],
            events,
        )
    assert kpi(loaded_page, "kpi-events") == events
    assert kpi(loaded_page, "kpi-sessions") == sessions
    assert kpi(loaded_page, "kpi-visitors") == visitors
    assert kpi(loaded_page, "kpi-conversion") == pytest.approx(converted / sessions, abs=1e-6)
    assert kpi(loaded_page, "kpi-bounce") == pytest.approx(bounced / sessions, abs=1e-6)

    shown = read_table(loaded_page, "overview_daily_table")
    expected = reference.fetch(raw, "overview_daily", FIRST_DAY, LAST_DAY)
    assert [
        (
            r["Day"],
            number(r["Events"]),
            number(r["Sessions"]),
            number(r["Users"]),
            number(r["Converted sessions"]),
        )
        for r in shown
    ] == [tuple(row) for row in expected]


def test_acquisition_figures_equal_sql(loaded_page: Any, raw: Any):
    """Four days against the four before them (the loaded week's first day among them)."""
    first, last = date(2025, 3, 6), date(2025, 3, 9)
    open_tab(loaded_page, "acquisition")
    set_dates(loaded_page, first, last)

    def figures(row: dict[str, str]) -> tuple:
        return (
            number(row["Sessions"]),
            row["Bounce"],
            number(row["Add to cart"]),
            number(row["Checkout started"]),
            number(row["Converted"]),
            number(row["Previous period"]),
            row["Conversion"],
            row["Previous conversion"],
        )

    def expected(row: tuple) -> tuple:
        sessions, bounced, cart, checkout, converted, previous, previous_converted = row
        return (
            sessions,
            percent(bounced, sessions),
            cart,
            checkout,
            converted,
            previous,
            percent(converted, sessions, 2),
            percent(previous_converted, previous, 2),
        )

    channels = reference.fetch(raw, "acquisition_channels", first, last)
    assert sum(row[6] for row in channels) > 0  # the previous period has sessions too
    shown = read_table(loaded_page, "acquisition_channels_table")
    assert [(r["Channel"].lower().replace(" ", "_"), *figures(r)) for r in shown] == [
        (row[0], *expected(row[1:])) for row in channels
    ]
    shown = read_table(loaded_page, "acquisition_sources_table")
    assert [(r["Source"], r["Medium"], *figures(r)) for r in shown] == [
        (row[0], row[1], *expected(row[2:]))
        for row in reference.fetch(raw, "acquisition_sources", first, last)
    ]
    shown = read_table(loaded_page, "acquisition_campaigns_table")
    assert [(r["Campaign"], *figures(r)) for r in shown] == [
        (row[0], *expected(row[1:]))
        for row in reference.fetch(raw, "acquisition_campaigns", first, last)
    ]
    assert output_errors(loaded_page) == []
    set_dates(loaded_page, FIRST_DAY, LAST_DAY)


def test_technology_figures_equal_sql(loaded_page: Any, raw: Any):
    open_tab(loaded_page, "technology")
    rows = reference.fetch(raw, "technology", FIRST_DAY, LAST_DAY)
    for dimension, output, label in (
        ("device", "technology_devices_table", "Device type"),
        ("browser", "technology_browsers_table", "Browser"),
        ("os", "technology_os_table", "Operating system"),
    ):
        expected = [row[1:] for row in rows if row[0] == dimension]
        total = sum(row[1] for row in expected)
        shown = read_table(loaded_page, output)
        assert [
            (
                r[label],
                number(r["Sessions"]),
                r["Of all sessions"],
                number(r["Add to cart"]),
                number(r["Checkout started"]),
                number(r["Converted"]),
                r["Conversion"],
            )
            for r in shown
        ] == [
            (
                value,
                sessions,
                percent(sessions, total),
                cart,
                checkout,
                converted,
                percent(converted, sessions, 2),
            )
            for value, sessions, cart, checkout, converted in expected
        ], dimension
        # every session has a device, a browser and an OS, "(unknown)" at worst
        assert total == reference.fetch(raw, "overview_kpis", FIRST_DAY, LAST_DAY)[0][1]


def test_include_bots_adds_the_bots_everywhere(loaded_page: Any, raw: Any):
    """One tick of "Include bots": the Overview's cards and the Acquisition tab's campaigns
    grow by the bots' events and sessions; Pipeline health's bot share is the same either
    way and equals the raw share."""
    from selenium.webdriver.common.by import By

    without = reference.fetch(raw, "overview_kpis", FIRST_DAY, LAST_DAY)[0]
    with_bots = reference.fetch(raw, "overview_kpis", FIRST_DAY, LAST_DAY, bots=True)[0]
    events, bot_events, sessions, bot_sessions = reference.fetch(
        raw, "pipeline_bots", FIRST_DAY, LAST_DAY
    )[0]
    assert bot_sessions > 0  # the fixture's crawlers and burst at least
    assert with_bots[:2] == (events, sessions)
    assert without[:2] == (events - bot_events, sessions - bot_sessions)

    open_tab(loaded_page, "pipeline")
    assert kpi(loaded_page, "pipeline-bot-sessions") == pytest.approx(
        bot_sessions / sessions, abs=1e-6
    )
    assert kpi(loaded_page, "pipeline-bot-events") == pytest.approx(bot_events / events, abs=1e-6)
    card = loaded_page.find_element(By.CSS_SELECTOR, "#pipeline-bot-sessions .kpi-delta").text
    assert card == f"{bot_sessions:,} of {sessions:,} sessions"

    open_tab(loaded_page, "overview")
    assert (kpi(loaded_page, "kpi-events"), kpi(loaded_page, "kpi-sessions")) == without[:2]
    include_bots(loaded_page, True)
    try:
        assert kpi(loaded_page, "kpi-events") == events
        assert kpi(loaded_page, "kpi-sessions") == sessions
        assert kpi(loaded_page, "kpi-visitors") == with_bots[2]
        open_tab(loaded_page, "acquisition")
        campaigns = {
            bots: [
                row[:2]
                for row in reference.fetch(raw, "acquisition_campaigns", FIRST_DAY, LAST_DAY, bots)
            ]
            for bots in (False, True)
        }
        assert campaigns[True] != campaigns[False]  # the crawlers land from a campaign
        shown = read_table(loaded_page, "acquisition_campaigns_table")
        assert [(r["Campaign"], number(r["Sessions"])) for r in shown] == campaigns[True]
        open_tab(loaded_page, "pipeline")
        assert kpi(loaded_page, "pipeline-bot-sessions") == pytest.approx(
            bot_sessions / sessions, abs=1e-6
        )
        assert output_errors(loaded_page) == []
    finally:
        include_bots(loaded_page, False)
    open_tab(loaded_page, "overview")
    assert kpi(loaded_page, "kpi-sessions") == without[1]


def test_funnel_figures_equal_sql(loaded_page: Any, raw: Any):
    open_tab(loaded_page, "funnel")
    expected = reference.fetch(raw, "funnel_steps", FIRST_DAY, LAST_DAY)
    shown = read_table(loaded_page, "funnel_table")
    assert [
        (
            r["Step"],
            number(r["Sessions in order"]),
            number(r["Sessions with step"]),
            number(r["Events"]),
        )
        for r in shown
    ] == [
        (f"{no}. {name}", in_order, sessions, events)
        for no, name, in_order, sessions, events in expected
    ]
    first = expected[0][2]
    for row, (_no, _name, in_order, _s, _e) in zip(shown, expected, strict=True):
        assert row["Of first step"] == f"{100 * in_order / first:.1f}%"
    # the strict funnel narrows at every step and somebody bought something
    in_order = [row[2] for row in expected]
    assert in_order == sorted(in_order, reverse=True)
    assert in_order[-1] > 0

    # by day: a column per step, in step order
    steps = [name for _no, name, *_ in expected]
    by_day: dict[str, dict[str, int]] = {}
    for day, _no, name, in_order_that_day in reference.fetch(
        raw, "funnel_daily", FIRST_DAY, LAST_DAY
    ):
        by_day.setdefault(day, {})[name] = in_order_that_day
    daily = read_table(loaded_page, "funnel_daily_table")
    assert [(r["Day"], *(number(r[s]) for s in steps)) for r in daily] == [
        (day, *(counts[s] for s in steps)) for day, counts in by_day.items()
    ]


def test_date_filter_narrows_the_figures(loaded_page: Any, raw: Any):
    day = date(2025, 3, 5)
    open_tab(loaded_page, "overview")
    set_dates(loaded_page, day, day)
    events, sessions, visitors, _converted, _bounced = reference.fetch(
        raw, "overview_kpis", day, day
    )[0]
    assert 0 < events < 3000
    assert kpi(loaded_page, "kpi-events") == events
    assert kpi(loaded_page, "kpi-sessions") == sessions
    assert kpi(loaded_page, "kpi-visitors") == visitors
    assert [r["Day"] for r in read_table(loaded_page, "overview_daily_table")] == ["2025-03-05"]

    open_tab(loaded_page, "funnel")
    expected = reference.fetch(raw, "funnel_steps", day, day)
    shown = read_table(loaded_page, "funnel_table")
    assert [number(r["Sessions in order"]) for r in shown] == [row[2] for row in expected]

    # a range without data says so instead of drawing empty charts
    set_dates(loaded_page, date(2024, 1, 1), date(2024, 1, 7))
    assert any(
        "No events between 2024-01-01 and 2024-01-07" in m for m in validation_messages(loaded_page)
    )
    assert output_errors(loaded_page) == []
    set_dates(loaded_page, FIRST_DAY, LAST_DAY)


def test_pipeline_health_counts_events_as_well_as_objects(loaded_page: Any, raw: Any):
    """Each run's objects and events (events read = inserted + duplicate + rejected), and
    the events loaded in the last 24 hours, as etl_runs holds them."""
    from selenium.webdriver.common.by import By

    open_tab(loaded_page, "pipeline")
    with raw.cursor() as cur:
        cur.execute(
            "SELECT run_id, objects_seen, events_read, rows_inserted, rows_duplicate,"
            " events_rejected FROM public.etl_runs ORDER BY run_id DESC LIMIT 25"
        )
        runs = cur.fetchall()
        cur.execute(
            "SELECT sum(rows_inserted), sum(events_rejected) FROM public.etl_runs"
            " WHERE started_at > now() - interval '24 hours'"
        )
        loaded, rejected = cur.fetchone()
    columns = ("Run", "Objects", "Events", "Rows inserted", "Duplicates", "Events rejected")
    shown = read_table(loaded_page, "pipeline_runs_table")
    assert [tuple(number(r[c]) for c in columns) for r in shown] == [tuple(r) for r in runs]
    assert all(read == ins + dup + rej for _, _, read, ins, dup, rej in runs)
    assert sum(row[2] for row in runs) > 0
    card = loaded_page.find_element(By.CSS_SELECTOR, "#pipeline-events .kpi-value").text
    expected = f"{loaded:,}" + (f" ({rejected:,} rejected)" if rejected else "")
    assert card == expected


def test_empty_warehouse_says_there_is_no_data(
    start_app: Any, browser: Any, warehouse: Warehouse, screenshots: Path
):
    app = start_app({**warehouse.reader_env(warehouse.empty), "DW_PG_PASSWORD": READER_PASSWORD})
    browser.get(app.url)
    wait_idle(browser)
    from selenium.webdriver.common.by import By

    notice = browser.find_element(By.ID, "no-data").text
    assert notice.startswith("No data yet.")
    for tab in TABS:
        open_tab(browser, tab)
        assert output_errors(browser) == [], tab
        messages = validation_messages(browser)
        assert messages, f"{tab} shows nothing about the missing data"
        assert all(m.startswith("No data yet") or m == "No ETL run yet." for m in messages), (
            messages
        )
    browser.save_screenshot(str(screenshots / "empty-warehouse.png"))
