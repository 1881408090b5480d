"""ETL benchmark: load stage and end to end, each next to its baselines, in one run.

    .venv/bin/python benchmarks/etl_bench.py [--load-events 100000] [--singles 1500]
                                             [--batches 150] [--batch-size 100]

Everything runs on this machine: a throwaway PostgreSQL 15 cluster with its default
(durable) settings, migrated with roles/dw/files/migrations, and a moto server in
its own process on a free 127.0.0.1 port.  It prints figures and whether each target
of issue #5 is met; it asserts nothing.

Load stage (rows already transformed, as the handler has them):
  * ETL        etl_db.load_batch: manifest claim + COPY into a temp staging table +
               INSERT ... SELECT ... ON CONFLICT DO NOTHING + rejects, one
               transaction per MAX_RECORDS_PER_BATCH rows, into the real table.
  * per-row    one INSERT ... ON CONFLICT DO NOTHING per row into the real table,
               a commit every 500 rows (seeds/001's MAX_RECORDS_PER_BATCH example).
  * bare COPY  the same COPY text into an UNLOGGED table without index or
               constraint: the practical ceiling.
  Targets: ETL >= 0.5 x bare COPY and >= 10 x per-row.

End to end (objects in moto S3 -> rows committed, rollups included for the ETL):
  * ETL        handler({"from", "to"}) with its concurrent GETs.
  * baseline   sequential GET of each object, the same parser, per-row INSERT.
  Run for single-event objects (what one browser request writes) and for the
  ingest Lambda's batch objects.  Target: ETL >= 5 x the sequential baseline.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ETL_DIR = REPO / "lambda_src" / "etl"
MIGRATIONS = REPO / "roles" / "dw" / "files" / "migrations"
sys.path.insert(0, str(ETL_DIR))
sys.path.insert(0, str(REPO / "tests" / "fixtures"))

import boto3  # noqa: E402
import etl_db  # noqa: E402
import etl_transform  # noqa: E402
import postgres as pg_fixture  # noqa: E402
import psycopg2  # noqa: E402
from etl_config import Settings  # noqa: E402
from psycopg2 import sql  # noqa: E402

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)
BUCKET = "clickstream-bench"
PER_ROW_COMMIT_EVERY = 500
EVENT_NAMES = (
    "page_view",
    "click",
    "home_view",
    "category_view",
    "product_view",
    "add_to_cart_click",
    "wishlist_toggle",
    "checkout_start",
    "checkout_complete",
)


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def synthetic_event(rng: random.Random, n: int) -> dict[str, Any]:
    name = rng.choice(EVENT_NAMES)
    client = f"c-{rng.randrange(2000)}"
    payload: dict[str, Any] = {
        "eventId": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventName": name,
        "pageUrl": f"https://shop.example/p/{rng.randrange(500)}",
        "referrer": "https://search.example/?q=laptop",
        "userId": f"u-{rng.randrange(800)}" if rng.random() < 0.4 else None,
        "userLoginState": "logged_in" if rng.random() < 0.4 else "guest",
        "clientId": client,
        "sessionId": f"s-{client}-{rng.randrange(3)}",
        "isFirstVisit": rng.random() < 0.1,
        "_ingest": {
            "receivedAt": (HOUR + timedelta(seconds=n % 3600)).isoformat().replace("+00:00", "Z"),
            "sourceIp": "203.0.113.9",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
            "method": "POST",
            "path": "/clickstream",
            "requestId": str(uuid.UUID(int=rng.getrandbits(128))),
            "apiId": "bench",
            "stage": "$default",
            "traceId": "Root=1-66000000-000000000000000000000000",
        },
    }
    if name in ("product_view", "add_to_cart_click", "wishlist_toggle"):
        sku = rng.randrange(300)
        payload["product"] = {
            "id": f"sku-{sku}",
            "name": f"Product {sku}",
            "category": f"cat-{sku % 12}",
            "brand": {"name": f"Brand {sku % 40}"},
            "price": 1000 + sku,
            "discountPrice": 900 + sku,
            "urlPath": f"/p/sku-{sku}",
        }
    if name == "click":
        payload["element"] = {"tag": "a", "id": "nav", "role": "link", "text": "Deals"}
    return payload


def parsed_objects(events: list[dict[str, Any]], per_object: int) -> list[Any]:
    objects = []
    for start in range(0, len(events), per_object):
        chunk = events[start : start + per_object]
        key = f"events/2024/05/01/10/batch-{start}.json"
        body = json.dumps({"events": chunk}).encode()
        objects.append(
            etl_transform.parse_object(
                body,
                key=key,
                etag=f"e{start}",
                object_hour=HOUR,
                last_modified=HOUR,
                size=len(body),
            )
        )
    return objects


# ---------------------------------------------------------------------------------------------
# infrastructure
# ---------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - the venv's own moto_server
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


class Cluster:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.count = 0

    def fresh_database(self) -> str:
        self.count += 1
        name = f"bench_{self.count}"
        self.server.create_database(name)
        pg_fixture.apply_migrations(self.server, name, MIGRATIONS)
        return name

    def settings(self, dbname: str, **overrides: str) -> Settings:
        env = {
            "RAW_BUCKET_NAME": BUCKET,
            "DW_PG_HOST": self.server.host,
            "DW_PG_PORT": str(self.server.port),
            "DW_PG_USER": pg_fixture.SUPERUSER,
            "DW_PG_PASSWORD": pg_fixture.SUPERUSER_PASSWORD,
            "DW_PG_DATABASE": dbname,
            "DW_PG_SSL": "disable",
            **overrides,
        }
        return Settings.from_env(env)


# ---------------------------------------------------------------------------------------------
# load stage
# ---------------------------------------------------------------------------------------------
def etl_load(cluster: Cluster, objects: list[Any], batch_rows: int, connections: int) -> float:
    settings = cluster.settings(cluster.fresh_database(), MAX_RECORDS_PER_BATCH=str(batch_rows))
    conns = [etl_db.connect(settings) for _ in range(connections)]
    try:
        run_id = etl_db.start_run(conns[0], "manual", [HOUR], "bench")
        for conn in conns:
            etl_db.prepare_session(conn, settings)
        batches, current, rows = [], [], 0
        for obj in objects:
            current.append(obj)
            rows += len(obj.rows)
            if rows >= batch_rows:
                batches.append(current)
                current, rows = [], 0
        if current:
            batches.append(current)
        loader = etl_db.BatchLoader(conns, settings, run_id, lambda batch, result: None)
        started = time.perf_counter()
        for batch in batches:
            loader.submit(batch)
        loader.close()
        return time.perf_counter() - started
    finally:
        for conn in conns:
            conn.close()


def bare_copy(cluster: Cluster, lines: list[bytes], batch_rows: int, streams: int = 1) -> float:
    """COPY into an unlogged, unindexed table, on ``streams`` connections at once."""
    from concurrent.futures import ThreadPoolExecutor

    dbname = cluster.fresh_database()
    conns = [psycopg2.connect(cluster.server.dsn(dbname)) for _ in range(streams)]
    with conns[0], conns[0].cursor() as cur:
        cur.execute(
            "CREATE UNLOGGED TABLE bare (LIKE public.clickstream_events INCLUDING DEFAULTS)"
        )
    columns = ", ".join(etl_transform.COLUMNS)
    chunks = [b"".join(lines[i : i + batch_rows]) for i in range(0, len(lines), batch_rows)]

    def copy(slot: int) -> None:
        conn = conns[slot]
        for chunk in chunks[slot::streams]:
            with conn, conn.cursor() as cur:
                cur.copy_expert(f"COPY bare ({columns}) FROM STDIN", io.BytesIO(chunk))

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(streams) as pool:
            list(pool.map(copy, range(streams)))
        return time.perf_counter() - started
    finally:
        for conn in conns:
            conn.close()


def per_row_insert_sql() -> sql.Composed:
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in etl_transform.COLUMNS)
    placeholders = sql.SQL(", ").join(
        sql.SQL("%s::jsonb") if c in ("payload_extra", "ingest_metadata") else sql.SQL("%s")
        for c in etl_transform.COLUMNS
    )
    return sql.SQL(
        "INSERT INTO public.clickstream_events ({}) VALUES ({}) ON CONFLICT (event_id) DO NOTHING"
    ).format(columns, placeholders)


def row_params(row: Any) -> list[Any]:
    return [
        json.dumps(row.values[c]) if isinstance(row.values[c], dict) else row.values[c]
        for c in etl_transform.COLUMNS
    ]


def per_row(cluster: Cluster, rows: list[Any]) -> float:
    dbname = cluster.fresh_database()
    conn = psycopg2.connect(cluster.server.dsn(dbname))
    statement = per_row_insert_sql()
    try:
        started = time.perf_counter()
        with conn.cursor() as cur:
            for n, row in enumerate(rows, start=1):
                cur.execute(statement, row_params(row))
                if n % PER_ROW_COMMIT_EVERY == 0:
                    conn.commit()
        conn.commit()
        return time.perf_counter() - started
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------------------------
def upload(s3: Any, events: list[dict[str, Any]], per_object: int) -> int:
    from concurrent.futures import ThreadPoolExecutor

    bodies = []
    for start in range(0, len(events), per_object):
        chunk = events[start : start + per_object]
        if per_object == 1:
            bodies.append((f"events/2024/05/01/10/event-{uuid.uuid4()}.json", chunk[0]))
        else:
            bodies.append((f"events/2024/05/01/10/batch-{uuid.uuid4()}.json", {"events": chunk}))
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda kb: s3.put_object(Bucket=BUCKET, Key=kb[0], Body=json.dumps(kb[1])), bodies
            )
        )
    return len(bodies)


def e2e_etl(
    cluster: Cluster, batch_rows: int, load_connections: int
) -> tuple[float, dict[str, Any]]:
    handler_path = ETL_DIR / "handler.py"
    import importlib.util

    spec = importlib.util.spec_from_file_location("clickstream_etl_handler_bench", handler_path)
    handler = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(handler)
    settings = cluster.settings(cluster.fresh_database())
    os.environ.update(
        {
            "RAW_BUCKET_NAME": settings.bucket,
            "DW_PG_HOST": settings.pg_host,
            "DW_PG_PORT": str(settings.pg_port),
            "DW_PG_USER": settings.pg_user,
            "DW_PG_PASSWORD": settings.pg_password,
            "DW_PG_DATABASE": settings.pg_database,
            "DW_PG_SSL": "disable",
            "MAX_RECORDS_PER_BATCH": str(batch_rows),
            "ETL_LOAD_CONNECTIONS": str(load_connections),
        }
    )
    quiet = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(quiet):
        summary = handler.handler({"from": "2024-05-01T10", "to": "2024-05-01T10"}, None)
    return time.perf_counter() - started, summary


def e2e_sequential(cluster: Cluster, s3: Any) -> tuple[float, int]:
    dbname = cluster.fresh_database()
    conn = psycopg2.connect(cluster.server.dsn(dbname))
    statement = per_row_insert_sql()
    inserted = 0
    try:
        started = time.perf_counter()
        paginator = s3.get_paginator("list_objects_v2")
        with conn.cursor() as cur:
            for page in paginator.paginate(Bucket=BUCKET, Prefix="events/2024/05/01/10/"):
                for item in page.get("Contents", []):
                    response = s3.get_object(Bucket=BUCKET, Key=item["Key"])
                    parsed = etl_transform.parse_object(
                        response["Body"].read(),
                        key=item["Key"],
                        etag=item["ETag"],
                        object_hour=HOUR,
                        last_modified=response["LastModified"],
                        size=item["Size"],
                    )
                    for row in parsed.rows:
                        cur.execute(statement, row_params(row))
                        inserted += cur.rowcount
                        if inserted % PER_ROW_COMMIT_EVERY == 0:
                            conn.commit()
        conn.commit()
        return time.perf_counter() - started, inserted
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------
def verdict(ratio: float, target: float) -> str:
    return f"{ratio:6.1f}x  (target >= {target:g}x: {'MET' if ratio >= target else 'NOT MET'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load-events", type=int, default=100_000)
    parser.add_argument("--per-row-events", type=int, default=20_000)
    parser.add_argument("--singles", type=int, default=1500, help="single-event objects")
    parser.add_argument("--batches", type=int, default=150, help="batch objects")
    parser.add_argument("--batch-size", type=int, default=100, help="events per batch object")
    parser.add_argument("--batch-rows", type=int, default=5000, help="MAX_RECORDS_PER_BATCH")
    parser.add_argument("--load-connections", type=int, default=2, choices=(1, 2))
    args = parser.parse_args()

    rng = random.Random(20240501)  # noqa: S311 - synthetic data, not security
    events = [synthetic_event(rng, n) for n in range(args.load_events)]
    objects = parsed_objects(events, 100)
    rows = etl_transform.unique_rows(objects)
    lines = [row.copy_line for row in rows]
    print(f"ETL benchmark on {os.cpu_count()} CPUs; PostgreSQL 15 with default settings")

    with pg_fixture.running_postgres(settings={}) as server:
        cluster = Cluster(server)
        etl_seconds = etl_load(cluster, objects, args.batch_rows, args.load_connections)
        copy_seconds = bare_copy(cluster, lines, args.batch_rows)
        copy2_seconds = bare_copy(cluster, lines, args.batch_rows, streams=2)
        sample = rows[: args.per_row_events]
        per_row_seconds = per_row(cluster, sample)
        etl_rate = len(rows) / etl_seconds
        copy_rate = len(rows) / copy_seconds
        per_row_rate = len(sample) / per_row_seconds
        print("\nLoad stage (rows already transformed)")
        print(f"  per-row INSERT            {per_row_rate:10,.0f} rows/s  ({len(sample):,} rows)")
        print(f"  bare COPY (ceiling)       {copy_rate:10,.0f} rows/s  ({len(rows):,} rows)")
        print(f"  bare COPY, 2 connections  {len(rows) / copy2_seconds:10,.0f} rows/s  (reference)")
        print(
            f"  ETL load ({args.load_connections} connection(s)) {etl_rate:10,.0f} rows/s"
            f"  ({len(rows):,} rows)"
        )
        print(
            f"  ETL / bare COPY           {etl_rate / copy_rate:6.2f}   (target >= 0.5: "
            f"{'MET' if etl_rate >= 0.5 * copy_rate else 'NOT MET'})"
        )
        print(f"  ETL / per-row INSERT      {verdict(etl_rate / per_row_rate, 10)}")

        # moto accepts any credentials; these never leave 127.0.0.1
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ[name] = "bench"
        os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
        with moto_server() as endpoint:
            os.environ["AWS_ENDPOINT_URL"] = endpoint
            s3 = boto3.client("s3")
            for label, count, per_object in (
                ("single-event objects", args.singles, 1),
                (f"batch objects of {args.batch_size} events", args.batches, args.batch_size),
            ):
                s3.create_bucket(Bucket=BUCKET)
                n_objects = upload(s3, events[: count * per_object], per_object)
                seq_seconds, seq_rows = e2e_sequential(cluster, s3)
                etl_seconds, summary = e2e_etl(cluster, args.batch_rows, args.load_connections)
                seq_rate = seq_rows / seq_seconds
                etl_rate = summary["rows_inserted"] / etl_seconds
                print(f"\nEnd to end, {label} ({n_objects:,} objects, {seq_rows:,} events)")
                print(f"  sequential GET + per-row INSERT {seq_rate:10,.0f} events/s")
                print(
                    f"  ETL handler                     {etl_rate:10,.0f} events/s"
                    f"  ({summary['rows_inserted']:,} rows, rollups included)"
                )
                print(f"  ETL / sequential                {verdict(etl_rate / seq_rate, 5)}")
                for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
                    keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
                    if keys:
                        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})
                s3.delete_bucket(Bucket=BUCKET)


if __name__ == "__main__":
    main()
