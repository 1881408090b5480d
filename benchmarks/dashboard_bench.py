"""Dashboard benchmark: every panel's query on N generated events, next to the raw-table figure.

    .venv/bin/python benchmarks/dashboard_bench.py [--events 10000000] [--days 30]
                                                   [--runs 20] [--raw-runs 3]

Loads N events of clickstream_tools.datagen (default ten million over 30 days) into a throwaway
PostgreSQL 15 (clickstream_tools.pgcluster) migrated with roles/dw/files/migrations,
day by day: COPY into ``clickstream_events`` (the columns the ETL's mapping fills, the
visitor classification of etl_classify included, without going through S3 and the
Python mapping, which the ETL benchmark measures), then the ETL's own rollup refresh
(``etl_rollups.refresh``) for the day's hours, as the hourly ETL would.  Then, for the
dashboard's default range (the last 7 days of data) and for the whole range, bots left
out, and for the 7 days with "Include bots", it runs each query of
roles/shiny/files/app/sql/ ``--runs`` times and prints p50 and p95, next to the same
figure computed from the raw events table (clickstream_tools.dashboard_reference,
``--raw-runs`` times).  Target (issues #7 and #17): every panel's p95 at most 100 ms.
Figures only: it asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg2
from psycopg2 import sql

from clickstream_etl import etl_classify, etl_rollups, etl_transform
from clickstream_tools import dashboard_reference, datagen
from clickstream_tools import pgcluster as pg_fixture

REPO = Path(__file__).resolve().parents[1]

SQL_DIR = REPO / "roles" / "shiny" / "files" / "app" / "sql"
MIGRATIONS = REPO / "roles" / "dw" / "files" / "migrations"
DATABASE = "clickstream_dw"
TARGET_MS = 100.0
# A DW host's settings for about 4 GB of memory (roles/postgresql's formula); fsync
# off only speeds up the load, not the queries measured.
SETTINGS = {
    **pg_fixture.FAST_SETTINGS,
    "shared_buffers": "1GB",
    "effective_cache_size": "3GB",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
    "max_wal_size": "4GB",
    "temp_buffers": "64MB",
}
TOP_LEVEL = {
    "eventId": "event_id",
    "eventName": "event_name",
    "userId": "user_id",
    "userLoginState": "user_login_state",
    "identity_source": "identity_source",
    "clientId": "client_id",
    "sessionId": "session_id",
    "isFirstVisit": "is_first_visit",
    "pageUrl": "page_url",
    "referrer": "referrer",
}


# ---------------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------------
def copy_lines(events: Iterable[dict[str, Any]]) -> bytes:
    """The events as COPY text rows of etl_transform.COLUMNS, as the ETL's mapping fills them
    (with the classification of the user agent, page URL and referrer)."""
    out = []
    for event in events:
        values: dict[str, Any] = dict.fromkeys(etl_transform.COLUMNS)
        extra = {}
        for key, value in event.items():
            column = TOP_LEVEL.get(key)
            if column is not None:
                values[column] = value
            elif key not in ("product", "_ingest"):
                extra[key] = value
        product = event.get("product")
        if product is not None:
            values["context_product_id"] = product["id"]
            values["context_product_name"] = product["name"]
            values["context_product_category"] = product["category"]
            values["context_product_brand"] = etl_transform.pick_brand(product)[0]
            values["context_product_price"] = product["price"]
            values["context_product_discount_price"] = product.get("discountPrice")
            values["context_product_url_path"] = product["urlPath"]
        values["payload_extra"] = extra
        values["ingest_metadata"] = event["_ingest"]
        values["event_timestamp"] = event["_ingest"]["receivedAt"]
        values["event_id_generated"] = False
        values["event_timestamp_source"] = "ingest"
        values["source_object_key"] = datagen.object_key(event)
        values["source_event_index"] = 0
        agent = etl_classify.classify_agent(event["_ingest"].get("userAgent"))
        values.update(agent._asdict(), bot_reason="user_agent" if agent.is_bot else None)
        values.update(
            etl_classify.classify_source(values["page_url"], values["referrer"])._asdict()
        )
        out.append(etl_transform.copy_line(values))
    return b"".join(out)


def load(conn: Any, config: datagen.Config) -> dict[str, float]:
    """Day by day: COPY the day's events, queue its hours, run the ETL's rollup refresh."""
    columns = ", ".join(etl_transform.COLUMNS)
    target = sql.Identifier("public", "clickstream_events")
    generate = copy = rollup = 0.0
    rollup_steps: dict[str, float] = {}
    loaded = 0
    started = time.perf_counter()
    iterator = datagen.Generator(config).days()
    while True:
        t0 = time.perf_counter()
        try:
            day, events = next(iterator)
        except StopIteration:
            break
        data = copy_lines(events)
        hours = sorted({e["_ingest"]["receivedAt"][:13] for e in events})
        t1 = time.perf_counter()
        with conn, conn.cursor() as cur:
            cur.copy_expert(
                f"COPY public.clickstream_events ({columns}) FROM STDIN", io.BytesIO(data)
            )
            cur.execute(
                "INSERT INTO public.etl_pending_rollups (event_hour) "
                "SELECT (h || ':00:00+00')::timestamptz FROM unnest(%s::text[]) AS h "
                "ON CONFLICT DO NOTHING",
                ([h.replace("T", " ") for h in hours],),
            )
        t2 = time.perf_counter()
        etl_rollups.refresh(conn, target, rollup_steps)
        t3 = time.perf_counter()
        generate, copy, rollup = generate + t1 - t0, copy + t2 - t1, rollup + t3 - t2
        loaded += len(events)
        rate = loaded / (t3 - started)
        print(
            f"  {day}: {len(events):>9,} events, {loaded:>11,} in all ({rate:,.0f}/s)",
            flush=True,
        )
    return {
        "generate": generate,
        "copy": copy,
        "rollup": rollup,
        "events": loaded,
        "rollup_steps": rollup_steps,
    }


# ---------------------------------------------------------------------------------------------
# measure
# ---------------------------------------------------------------------------------------------
def timings(run: Callable[[], Any], runs: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        run()
    result = []
    for _ in range(runs):
        start = time.perf_counter()
        run()
        result.append((time.perf_counter() - start) * 1000)
    return result


def p50_p95(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return statistics.median(ordered), p95


def execute(conn: Any, text: str, params: dict[str, Any]) -> Callable[[], Any]:
    def run() -> Any:
        with conn.cursor() as cur:
            cur.execute(text, params)
            return cur.fetchall()

    return run


def table_sizes(conn: Any) -> list[tuple[str, int, str]]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.relname, c.reltuples::bigint, pg_size_pretty(pg_total_relation_size(c.oid))"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r'"
            " ORDER BY pg_total_relation_size(c.oid) DESC"
        )
        return cur.fetchall()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="events to load (10M)")
    parser.add_argument("--days", type=int, default=30, help="days they cover (30)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=20, help="timed runs of each panel query")
    parser.add_argument("--raw-runs", type=int, default=3, help="timed runs of each raw query")
    args = parser.parse_args(argv)
    if args.events < 1000 or args.days < 8 or args.runs < 1 or args.raw_runs < 1:
        parser.error("--events >= 1000, --days >= 8, --runs >= 1 and --raw-runs >= 1")

    config = datagen.Config(
        seed=args.seed, events=args.events, start=date(2025, 1, 6), days=args.days
    )
    last_day = config.start + timedelta(days=args.days - 1)
    # (first day, last day, "Include bots")
    ranges = {
        "7 days": (last_day - timedelta(days=6), last_day, False),
        f"{args.days} days": (config.start, last_day, False),
        "7 days+bots": (last_day - timedelta(days=6), last_day, True),
    }
    print(f"Dashboard benchmark: {args.events:,} events over {args.days} days, seed {args.seed}")
    print("PostgreSQL settings: " + ", ".join(f"{k}={v}" for k, v in SETTINGS.items()))
    with pg_fixture.running_postgres(settings=SETTINGS) as server:
        server.create_database(DATABASE)
        pg_fixture.apply_migrations(server, DATABASE, MIGRATIONS)
        conn = psycopg2.connect(server.dsn(DATABASE), options="-c TimeZone=UTC")
        print("Loading (generate, COPY, ETL rollup refresh per day):")
        figures = load(conn, config)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("VACUUM ANALYZE")
        print(
            f"Loaded {figures['events']:,} events: generate+format {figures['generate']:.0f} s,"
            f" COPY {figures['copy']:.0f} s, rollups {figures['rollup']:.0f} s"
        )
        print(
            "  rollup refresh by statement: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in figures["rollup_steps"].items())
        )
        for name, rows, size in table_sizes(conn):
            print(f"  {name:<26} {rows:>12,} rows {size:>10}")

        queries = dashboard_reference.app_queries(SQL_DIR)
        header = (
            f"{'panel query':<22}"
            + "".join(f"{label + ' p50/p95 ms':>24}" for label in ranges)
            + f"{'raw 7 days p50/p95 ms':>26}{'raw/rollup p50':>16}  p95<=100ms"
        )
        print()
        print(header)
        print("-" * len(header))
        all_met = True
        for name, text in queries.items():
            cells = []
            p95_max = 0.0
            p50_7 = None
            for first, last, bots in ranges.values():
                params = dashboard_reference.params(first, last, bots)
                p50, p95 = p50_p95(timings(execute(conn, text, params), args.runs))
                p50_7 = p50 if p50_7 is None else p50_7
                p95_max = max(p95_max, p95)
                cells.append(f"{p50:>10.1f} / {p95:<9.1f}")
            raw_cell, ratio = f"{'n/a':>26}", f"{'':>16}"
            if name in dashboard_reference.QUERIES:
                first, last, _bots = ranges["7 days"]
                raw = execute(
                    conn, dashboard_reference.QUERIES[name], dashboard_reference.params(first, last)
                )
                raw_p50, raw_p95 = p50_p95(timings(raw, args.raw_runs, warmup=0))
                raw_cell = f"{raw_p50:>13.1f} / {raw_p95:<10.1f}"
                ratio = f"{raw_p50 / p50_7:>15.0f}x"
            met = p95_max <= TARGET_MS
            all_met &= met
            print(
                f"{name:<22}"
                + "".join(f"{c:>24}" for c in cells)
                + raw_cell
                + ratio
                + f"  {'yes' if met else 'NO'}"
            )
        print()
        print(f"Every panel's p95 <= {TARGET_MS:.0f} ms: {'yes' if all_met else 'no'}")
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
