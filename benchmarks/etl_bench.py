"""ETL benchmark: load stage and end to end, each next to its baselines, in one run.

    .venv/bin/python benchmarks/etl_bench.py [--load-events 100000] [--singles 1500]
                                             [--batches 150] [--batch-size 100] [--repeat 2]
                                             [--firehose-events 1000000] [--firehose-mib 5]
                                             [--big-object-mib 128]

Everything runs on this machine: a throwaway PostgreSQL 15 cluster with its default
(durable) settings, migrated with roles/dw/files/migrations, and a moto server in
its own process on a free 127.0.0.1 port.  It prints figures and whether each target
of issue #5 is met; it asserts nothing.

Load stage (rows already transformed, as the handler has them; the same batches of
objects, hence the same rows in the same order, for every method):
  * ETL        etl_db.BatchLoader: per batch one transaction (manifest claim + COPY into
               a temp staging table + INSERT ... SELECT ... ON CONFLICT DO NOTHING +
               rejects), on 1 and on 2 connections (the handler's default is 2).
  * per-row    one INSERT ... ON CONFLICT DO NOTHING per row into the real table,
               a commit every 500 rows.
  * bare COPY  each batch's COPY text straight into an UNLOGGED table without index or
               constraint, a commit per batch: the practical ceiling
               (docs/architecture.md#measured-facts).
  * COPY into the events table itself (WAL-logged, its primary key, indexes and
    checks; no de-duplication, no manifest): what durability and the indexes cost.
  Every connection is made like the handler's (etl_db.connect).  Next to rows/s the
  server's CPU time per row (the backends' utime+stime from /proc) is printed: on a
  shared machine it moves far less than the wall clock.
  Targets: ETL >= 0.5 x bare COPY and >= 10 x per-row.

End to end (objects in moto S3 -> rows committed):
  * ETL        handler({"from", "to"}) with its concurrent GETs; printed with the
               rollup refresh (the handler's whole run) and without it (the same run
               minus the time etl_rollups.refresh took; it runs after the last load).
  * baseline   sequential GET of each object, the same parser, per-row INSERT.
  Both use the same moto server process.  Run for single-event objects (what one
  browser request writes) and for the ingest Lambda's batch objects, with the CPU
  time the moto server, this process and PostgreSQL spent per object.
  Target: ETL >= 5 x the sequential baseline.
  Two ceilings follow from that CPU: moto serves every request in one Python process,
  so its CPU per GET caps any reader of the endpoint, however concurrent; and the
  ETL run's CPU, spread over every core with none idle, caps this ETL.

Firehose-shaped objects (issue #14): ``--firehose-events`` events (default a million)
as newline-delimited objects of about ``--firehose-mib`` MiB, one record per event as the
ingest's firehose sink writes them, loaded end to end by the handler against the same
moto server (each object is read and loaded part by part); printed next to the load
stage's bare-COPY ceiling and the single-event-object figure of the same run.  The
transform on that data (etl_transform.read_parts, as the ETL reads, no I/O) in us per
event, next to what json.loads alone costs on the same lines.  Peak RSS: a subprocess
runs the handler over one newline-delimited object of ``--big-object-mib`` MiB
(ru_maxrss), next to the same subprocess over an empty hour and the ETL Lambda's
memory.  Targets: >= 30,000 events/s end to end, <= 15 us per event transformed.

Every measurement runs --repeat times (default 2), methods and baselines alike, one
round after the other; each keeps its best (the Firehose run and the 128 MiB object
once each: they are the long ones).  The machine's load average is printed at
the start and the end: the figures are only comparable between runs on an equally
loaded machine.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import random
import re
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from psycopg2 import sql

from clickstream_etl import etl_db, etl_rollups, etl_transform
from clickstream_etl.etl_config import Settings
from clickstream_tools import datagen
from clickstream_tools import pgcluster as pg_fixture

REPO = Path(__file__).resolve().parents[1]
MIGRATIONS = REPO / "roles" / "dw" / "files" / "migrations"

HOUR = datetime(2024, 5, 1, 10, tzinfo=UTC)
BUCKET = "clickstream-bench"
# the ETL Lambda's memory (playbooks/lambdas.yml), which peak RSS is held to
LAMBDAS_PLAYBOOK = REPO / "playbooks" / "lambdas.yml"
PER_ROW_COMMIT_EVERY = 500
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
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
    """An event of realistic shape: datagen's user agents (people, crawlers, scripts),
    internal navigation mostly, landings from its referrers, a tenth of them tagged."""
    name = rng.choice(EVENT_NAMES)
    client = f"c-{rng.randrange(2000)}"
    page = f"https://shop.example/p/{rng.randrange(500)}"
    if rng.random() < 0.7:  # within the site
        referrer: str | None = f"https://shop.example/c/{rng.randrange(12)}"
    else:
        referrer = rng.choices(
            [r for r, _ in datagen.REFERRERS], weights=[w for _, w in datagen.REFERRERS]
        )[0]
        if rng.random() < 0.1:
            page += f"?utm_source=news&utm_medium=email&utm_campaign=c{rng.randrange(20)}"
    payload: dict[str, Any] = {
        "eventId": str(uuid.UUID(int=rng.getrandbits(128))),
        "eventName": name,
        "pageUrl": page,
        "referrer": referrer,
        "userId": f"u-{rng.randrange(800)}" if rng.random() < 0.4 else None,
        "userLoginState": "logged_in" if rng.random() < 0.4 else "guest",
        "clientId": client,
        "sessionId": f"s-{client}-{rng.randrange(3)}",
        "isFirstVisit": rng.random() < 0.1,
        "_ingest": {
            "receivedAt": (HOUR + timedelta(seconds=n % 3600)).isoformat().replace("+00:00", "Z"),
            "sourceIp": "203.0.113.9",
            "userAgent": rng.choice(datagen.USER_AGENTS),
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
def moto_server() -> Iterator[tuple[str, int]]:
    """moto's own ``moto_server`` in its own process: (endpoint, pid)."""
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
        yield endpoint, process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state is [0]), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def process_cpu(pid: int) -> float | None:
    """utime + stime of a process in seconds, None where /proc does not tell."""
    fields = _stat_fields(pid)
    return None if fields is None else (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postmaster_pid(server: Any) -> int:
    return int((server.datadir / "postmaster.pid").read_text().split()[0])


def process_tree_cpu(pid: int) -> float | None:
    """CPU seconds of a process, its reaped children and its live children.

    For a PostgreSQL postmaster: every backend, ended or running, and the background
    processes (WAL writer, checkpointer, autovacuum).
    """
    fields = _stat_fields(pid)
    if fields is None:
        return None
    ticks = sum(int(field) for field in fields[11:15])  # utime stime cutime cstime
    for stat in Path("/proc").glob("[0-9]*/stat"):
        child = _stat_fields(int(stat.parent.name))
        if child is not None and int(child[1]) == pid:
            ticks += int(child[11]) + int(child[12])
    return ticks / CLOCK_TICKS


class BackendCpu:
    """CPU time the server spent on these connections' backends, between start and stop."""

    def __init__(self, conns: list[Any]) -> None:
        self.pids = []
        for conn in conns:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()")
                self.pids.append(int(cur.fetchone()[0]))
            conn.commit()
        self.seconds: float | None = None
        self._start: list[float | None] = []

    def start(self) -> None:
        self._start = [process_cpu(pid) for pid in self.pids]

    def stop(self) -> None:
        end = [process_cpu(pid) for pid in self.pids]
        if None in end or None in self._start:
            return
        self.seconds = sum(e - s for e, s in zip(end, self._start, strict=True))


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} CPUs"


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

    def connections(self, count: int, **overrides: str) -> tuple[Settings, list[Any]]:
        """A fresh database and ``count`` connections to it, made as the handler makes them."""
        settings = self.settings(self.fresh_database(), **overrides)
        return settings, [etl_db.connect(settings) for _ in range(count)]


# ---------------------------------------------------------------------------------------------
# load stage
# ---------------------------------------------------------------------------------------------
class Measured:
    """Rows, wall seconds and server CPU seconds of one load method."""

    def __init__(self, rows: int, seconds: float, cpu: float | None) -> None:
        self.rows, self.seconds, self.cpu = rows, seconds, cpu

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    @classmethod
    def best(cls, runs: list[Measured]) -> Measured:
        """The fastest run's time and the least server CPU of all runs."""
        cpus = [run.cpu for run in runs]
        cpu = None if None in cpus else min(cpus)
        return cls(runs[0].rows, min(run.seconds for run in runs), cpu)

    def describe(self) -> str:
        cpu = "n/a" if self.cpu is None else f"{self.cpu / self.rows * 1e6:5.1f}"
        return f"{self.rate:10,.0f} rows/s   server CPU {cpu} us/row  ({self.rows:,} rows)"


def object_batches(objects: list[Any], batch_rows: int) -> list[list[Any]]:
    """Object-aligned batches of about ``batch_rows`` rows, as handler.batches makes them."""
    batches, current, rows = [], [], 0
    for obj in objects:
        current.append(obj)
        rows += len(obj.rows)
        if rows >= batch_rows:
            batches.append(current)
            current, rows = [], 0
    if current:
        batches.append(current)
    return batches


def etl_load(
    cluster: Cluster, batches: list[list[Any]], batch_rows: int, connections: int
) -> Measured:
    settings, conns = cluster.connections(connections, MAX_RECORDS_PER_BATCH=str(batch_rows))
    try:
        run_id = etl_db.start_run(conns[0], "manual", [HOUR], "bench")
        for conn in conns:
            etl_db.prepare_session(conn, settings)
        cpu = BackendCpu(conns)
        inserted = []
        loader = etl_db.BatchLoader(
            conns, settings, run_id, lambda batch, result: inserted.append(result.rows_inserted)
        )
        cpu.start()
        started = time.perf_counter()
        for batch in batches:
            loader.submit(batch)
        loader.close()
        seconds = time.perf_counter() - started
        cpu.stop()
        return Measured(sum(inserted), seconds, cpu.seconds)
    finally:
        for conn in conns:
            conn.close()


def bare_copy(
    cluster: Cluster, chunks: list[bytes], rows: int, streams: int, table: str
) -> Measured:
    """COPY each chunk in its own transaction, on ``streams`` connections at once.

    ``table`` is ``bare`` (an UNLOGGED copy of the events table without index or
    constraint) or ``events`` (public.clickstream_events itself).
    """
    from concurrent.futures import ThreadPoolExecutor

    _, conns = cluster.connections(streams)
    target = "public.clickstream_events"
    if table == "bare":
        target = "bare"
        with conns[0], conns[0].cursor() as cur:
            cur.execute(
                "CREATE UNLOGGED TABLE bare (LIKE public.clickstream_events INCLUDING DEFAULTS)"
            )
    statement = f"COPY {target} ({', '.join(etl_transform.COLUMNS)}) FROM STDIN"

    def copy(slot: int) -> None:
        conn = conns[slot]
        for chunk in chunks[slot::streams]:
            with conn, conn.cursor() as cur:
                cur.copy_expert(statement, io.BytesIO(chunk))

    try:
        cpu = BackendCpu(conns)
        cpu.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(streams) as pool:
            list(pool.map(copy, range(streams)))
        seconds = time.perf_counter() - started
        cpu.stop()
        return Measured(rows, seconds, cpu.seconds)
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
    return [json.dumps(value) if isinstance(value, dict) else value for value in row.fields]


def per_row(cluster: Cluster, rows: list[Any]) -> Measured:
    _, (conn,) = cluster.connections(1)
    statement = per_row_insert_sql()
    try:
        cpu = BackendCpu([conn])
        cpu.start()
        started = time.perf_counter()
        with conn.cursor() as cur:
            for n, row in enumerate(rows, start=1):
                cur.execute(statement, row_params(row))
                if n % PER_ROW_COMMIT_EVERY == 0:
                    conn.commit()
        conn.commit()
        seconds = time.perf_counter() - started
        cpu.stop()
        return Measured(len(rows), seconds, cpu.seconds)
    finally:
        conn.close()


def load_stage(cluster: Cluster, objects: list[Any], args: argparse.Namespace) -> dict[str, float]:
    batches = object_batches(objects, args.batch_rows)
    # the COPY text of each batch's rows, built before the clock starts (the ETL builds
    # its own inside the timed load): the same rows in the same order for every method
    batch_rows = [etl_transform.unique_rows(batch) for batch in batches]
    chunks = [b"".join(row.copy_line for row in rows) for rows in batch_rows]
    rows = sum(len(r) for r in batch_rows)
    sample = [row for rows_ in batch_rows for row in rows_][: args.per_row_events]

    # every method once per round, rounds one after the other: a burst of load from
    # elsewhere hits one round, and each method keeps its best round
    rounds: dict[Any, list[Measured]] = defaultdict(list)
    for _ in range(args.repeat):
        rounds["per-row"].append(per_row(cluster, sample))
        for n in (1, 2):
            rounds["bare", n].append(bare_copy(cluster, chunks, rows, n, "bare"))
            rounds["table", n].append(bare_copy(cluster, chunks, rows, n, "events"))
            etl_run = etl_load(cluster, batches, args.batch_rows, n)
            if etl_run.rows != rows:
                raise RuntimeError(f"the ETL inserted {etl_run.rows:,} of {rows:,} rows")
            rounds["etl", n].append(etl_run)
    per_row_m = Measured.best(rounds["per-row"])
    bare = {n: Measured.best(rounds["bare", n]) for n in (1, 2)}
    table = {n: Measured.best(rounds["table", n]) for n in (1, 2)}
    etl = {n: Measured.best(rounds["etl", n]) for n in (1, 2)}

    print(
        f"\nLoad stage ({len(batches)} batches of about {args.batch_rows:,} rows;"
        f" best of {args.repeat} rounds)"
    )
    print(f"  per-row INSERT                    {per_row_m.describe()}")
    for n in (1, 2):
        print(f"  bare COPY, {n} connection(s)        {bare[n].describe()}")
    for n in (1, 2):
        print(f"  COPY into the events table, {n}    {table[n].describe()}")
    for n in (1, 2):
        print(f"  ETL load, {n} connection(s)         {etl[n].describe()}")
    print(
        f"  ETL (2 conns, the handler's default) / bare COPY (1 conn, the ceiling)"
        f"  {etl[2].rate / bare[1].rate:5.2f}   (target >= 0.5: "
        f"{'MET' if etl[2].rate >= 0.5 * bare[1].rate else 'NOT MET'})"
    )
    print(
        f"  like for like: ETL / bare COPY on 1 connection {etl[1].rate / bare[1].rate:5.2f},"
        f" on 2 connections {etl[2].rate / bare[2].rate:5.2f};"
        f" ETL / COPY into the events table {etl[1].rate / table[1].rate:5.2f} (1),"
        f" {etl[2].rate / table[2].rate:5.2f} (2)"
    )
    if etl[1].cpu and bare[1].cpu and table[1].cpu:
        print(
            f"  server CPU per row, ETL / bare COPY {etl[1].cpu / bare[1].cpu:5.2f}x,"
            f" ETL / COPY into the events table {etl[1].cpu / table[1].cpu:5.2f}x"
        )
    print(f"  ETL (2 conns) / per-row INSERT    {verdict(etl[2].rate / per_row_m.rate, 10)}")
    return {"bare COPY": bare[1].rate, "ETL load": etl[2].rate}


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


class E2E:
    """One end-to-end run: events, wall seconds, rollup seconds, CPU seconds by process."""

    def __init__(self, events: int, seconds: float, cpu: dict[str, float | None]) -> None:
        self.events, self.seconds, self.cpu = events, seconds, cpu
        self.rollup_seconds = 0.0
        self.rollup_server_cpu: float | None = None  # PostgreSQL's, within the refresh

    @property
    def rate(self) -> float:
        return self.events / self.seconds

    @property
    def rate_without_rollups(self) -> float:
        return self.events / (self.seconds - self.rollup_seconds)

    def cpu_per_object(self, objects: int) -> str:
        parts = ", ".join(
            f"{name} {'n/a' if seconds is None else f'{seconds / objects * 1e3:.2f}'} ms"
            for name, seconds in self.cpu.items()
        )
        return f"CPU per object: {parts}"


@contextlib.contextmanager
def measured_e2e(moto_pid: int, postmaster_pid: int) -> Iterator[list[Any]]:
    """Yields a list that receives (wall seconds, {process: CPU seconds or None})."""
    box: list[Any] = []
    probes = {
        "moto server": lambda: process_cpu(moto_pid),
        "this process": time.process_time,
        "PostgreSQL": lambda: process_tree_cpu(postmaster_pid),
    }
    start = {name: probe() for name, probe in probes.items()}
    started = time.perf_counter()
    yield box
    seconds = time.perf_counter() - started
    # a backend's CPU reaches the postmaster's once it has exited and been reaped: the
    # run's backends have just been closed, so give the postmaster a moment
    time.sleep(1.0)
    end = {name: probe() for name, probe in probes.items()}
    cpu = {
        name: None if start[name] is None or end[name] is None else end[name] - start[name]
        for name in probes
    }
    box.extend([seconds, cpu])


def handler_env(settings: Settings, batch_rows: int) -> dict[str, str]:
    """The handler's environment for this database, as the Lambda's is set."""
    return {
        "RAW_BUCKET_NAME": settings.bucket,
        "DW_PG_HOST": settings.pg_host,
        "DW_PG_PORT": str(settings.pg_port),
        "DW_PG_USER": settings.pg_user,
        "DW_PG_PASSWORD": settings.pg_password,
        "DW_PG_DATABASE": settings.pg_database,
        "DW_PG_SSL": "disable",
        "MAX_RECORDS_PER_BATCH": str(batch_rows),
    }


def e2e_etl(cluster: Cluster, batch_rows: int, pids: tuple[int, int]) -> E2E:
    from clickstream_etl import handler

    os.environ.update(handler_env(cluster.settings(cluster.fresh_database()), batch_rows))
    # the rollup refresh runs once, after the last batch: its time is subtracted exactly
    rollup_seconds: list[float] = []
    rollup_server_cpu: list[float | None] = []
    refresh = etl_rollups.refresh

    def timed_refresh(*args: Any, **kwargs: Any) -> Any:
        started, server = time.perf_counter(), process_tree_cpu(pids[1])
        try:
            return refresh(*args, **kwargs)
        finally:
            rollup_seconds.append(time.perf_counter() - started)
            end = process_tree_cpu(pids[1])  # its backends are still open: counted live
            rollup_server_cpu.append(None if None in (server, end) else end - server)

    quiet = io.StringIO()
    etl_rollups.refresh = timed_refresh
    try:
        with measured_e2e(*pids) as box, contextlib.redirect_stdout(quiet):
            summary = handler.handler({"from": "2024-05-01T10", "to": "2024-05-01T10"}, None)
    finally:
        etl_rollups.refresh = refresh
    run = E2E(summary["rows_inserted"], *box)
    run.rollup_seconds = sum(rollup_seconds)
    if rollup_server_cpu and None not in rollup_server_cpu:
        run.rollup_server_cpu = sum(cpu for cpu in rollup_server_cpu if cpu is not None)
    return run


def e2e_sequential(cluster: Cluster, s3: Any, pids: tuple[int, int]) -> E2E:
    _, (conn,) = cluster.connections(1)
    statement = per_row_insert_sql()
    inserted = 0
    try:
        with measured_e2e(*pids) as box:
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
        return E2E(inserted, *box)
    finally:
        conn.close()


def end_to_end(
    cluster: Cluster, events: list[dict[str, Any]], args: argparse.Namespace
) -> dict[str, Any]:
    """Every end-to-end figure, on one moto server: its ETL rates by kind of object."""
    figures: dict[str, Any] = {}
    # moto accepts any credentials; these never leave 127.0.0.1
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "bench"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    with moto_server() as (endpoint, moto_pid):
        pids = (moto_pid, postmaster_pid(cluster.server))
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        s3 = boto3.client("s3")
        for label, count, per_object in (
            ("single-event objects", args.singles, 1),
            (f"batch objects of {args.batch_size} events", args.batches, args.batch_size),
        ):
            s3.create_bucket(Bucket=BUCKET)
            n_objects = upload(s3, events[: count * per_object], per_object)
            seqs, etls = [], []
            for _ in range(args.repeat):  # alternately, each keeps its best run
                seqs.append(e2e_sequential(cluster, s3, pids))
                etls.append(e2e_etl(cluster, args.batch_rows, pids))
            seq = max(seqs, key=lambda run: run.rate)
            etl = max(etls, key=lambda run: run.rate)
            bare_etl = max(etls, key=lambda run: run.rate_without_rollups)
            print(
                f"\nEnd to end, {label} ({n_objects:,} objects, {seq.events:,} events;"
                f" best of {args.repeat} runs)"
            )
            print(f"  sequential GET + per-row INSERT {seq.rate:10,.0f} events/s")
            print(f"      {seq.cpu_per_object(n_objects)}")
            print(
                f"  ETL handler, rollups included   {etl.rate:10,.0f} events/s"
                f"  ({etl.events:,} rows; rollup refresh {etl.rollup_seconds:.2f} s"
                f" of {etl.seconds:.2f} s)"
            )
            print(f"      {etl.cpu_per_object(n_objects)}")
            print(
                f"  ETL handler without the rollups {bare_etl.rate_without_rollups:10,.0f} events/s"
            )
            print(f"  ETL / sequential, rollups included {verdict(etl.rate / seq.rate, 5)}")
            print(
                "  ETL / sequential, without rollups  "
                f"{verdict(bare_etl.rate_without_rollups / seq.rate, 5)}"
            )
            print_bounds(etl, seq)
            figures[label] = etl.rate
            empty_bucket(s3)
        if args.firehose_events:
            figures.update(firehose_e2e(cluster, s3, args, pids))
        if args.big_object_mib:
            figures.update(big_object_rss(cluster, s3, args, endpoint))
    return figures


def empty_bucket(s3: Any) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=BUCKET, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=BUCKET)


def print_bounds(etl: E2E, seq: E2E) -> None:
    """What no reader of this endpoint, and no run costing this much CPU, could beat here.

    moto serves every request in one Python process, at most one core whatever the
    client's concurrency: its CPU per GET caps any reader.  The ETL run's CPU (moto,
    this process, PostgreSQL) spread perfectly over every core caps this ETL.
    """
    moto, cores = etl.cpu["moto server"], os.cpu_count() or 1
    if moto:
        cap = etl.events / moto
        print(
            f"  ceiling: moto's CPU per GET     {cap:10,.0f} events/s"
            f"  = {cap / seq.rate:.1f}x the sequential, for any reader (one process: one core)"
        )
    if None not in etl.cpu.values():
        cap = etl.events / (sum(etl.cpu.values()) / cores)
        print(
            f"  ceiling: this run's CPU, {cores} cores{cap:10,.0f} events/s"
            f"  = {cap / seq.rate:.1f}x the sequential, for this ETL (every core busy throughout)"
        )


# ---------------------------------------------------------------------------------------------
# Firehose-shaped objects (issue #14)
# ---------------------------------------------------------------------------------------------
READ_CHUNK = 256 * 1024  # what etl_s3 reads at a time


def firehose_bodies(count: int, object_bytes: int, seed: int = 14) -> Iterator[bytes]:
    """Newline-delimited objects of about ``object_bytes``: one compact JSON record and a
    line break per event, as the ingest's firehose sink sends them."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    lines: list[bytes] = []
    size = 0
    for n in range(count):
        line = encode(synthetic_event(rng, n)).encode() + b"\n"
        lines.append(line)
        size += len(line)
        if size >= object_bytes:
            yield b"".join(lines)
            lines, size = [], 0
    if lines:
        yield b"".join(lines)


def firehose_key(hour: datetime, n: int) -> str:
    """A key as Firehose names its objects under the hour's prefix."""
    return hour.strftime("events/%Y/%m/%d/%H/clickstream-raw-1-%Y-%m-%d-%H-") + (
        f"{n // 60 % 60:02d}-{n % 60:02d}-{uuid.uuid4()}"
    )


def upload_firehose(s3: Any, args: argparse.Namespace) -> tuple[int, int, list[bytes]]:
    """(objects, bytes, the first two bodies): generated and PUT a few at a time."""
    from concurrent.futures import ThreadPoolExecutor

    objects = total = 0
    kept: list[bytes] = []
    with ThreadPoolExecutor(4) as pool:
        pending: list[Any] = []
        for body in firehose_bodies(args.firehose_events, int(args.firehose_mib * 2**20)):
            if len(kept) < 2:
                kept.append(body)
            key = firehose_key(HOUR, objects)
            pending.append(pool.submit(s3.put_object, Bucket=BUCKET, Key=key, Body=body))
            objects, total = objects + 1, total + len(body)
            if len(pending) >= 8:
                pending.pop(0).result()
        for future in pending:
            future.result()
    return objects, total, kept


def transform_figures(
    bodies: list[bytes], batch_rows: int, repeat: int
) -> tuple[float, float, float, float]:
    """us per event (CPU, one thread, best of ``repeat`` rounds, at least 7): read_parts
    over the bodies as the ETL reads them (chunks, parts, rows without their values);
    the same over the same events as the ingest's batch objects of 100 (what the
    README's earlier figures measured); json.loads alone on the same lines; and the
    first again with the visitor classification answering a constant (its baseline)."""
    from clickstream_etl import etl_classify, etl_s3

    lines = [line for body in bodies for line in body.splitlines()]
    batches = [
        b'{"events":[' + b",".join(lines[start : start + 100]) + b"]}"
        for start in range(0, len(lines), 100)
    ]

    def read(objects: list[bytes], name: str) -> int:
        events = 0
        for body in objects:
            chunks = [body[i : i + READ_CHUNK] for i in range(0, len(body), READ_CHUNK)]
            for part in etl_transform.read_parts(
                chunks,
                key=f"events/2024/05/01/10/{name}",
                etag="bench",
                object_hour=HOUR,
                last_modified=HOUR,
                size=len(body),
                part_rows=batch_rows,
                part_bytes=etl_s3.PART_BYTES,
                keep_fields=False,
            ):
                events += len(part.rows) + len(part.rejects)
        return events

    def parse_only() -> int:
        for line in lines:
            json.loads(line)
        return len(lines)

    def unclassified() -> int:
        agent, source = etl_classify.classify_agent(None), etl_classify.classify_source(None, None)
        real = etl_classify.classify_agent, etl_classify.classify_source
        etl_classify.classify_agent = lambda _agent: agent
        etl_classify.classify_source = lambda _page, _referrer: source
        try:
            return read(bodies, "clickstream-raw-1-unclassified")
        finally:
            etl_classify.classify_agent, etl_classify.classify_source = real

    # rounds one after the other, every step once per round, each keeping its best: the
    # machine is shared, and a burst of load elsewhere then hits one round of each
    steps = (
        lambda: read(bodies, "clickstream-raw-1-transform"),
        lambda: read(batches, "batch-transform.json"),
        parse_only,
        unclassified,
    )
    best = [float("inf")] * len(steps)
    for _ in range(max(repeat, 7)):
        for n, step in enumerate(steps):
            started = time.process_time()
            events = step()
            best[n] = min(best[n], (time.process_time() - started) / events * 1e6)
    return best[0], best[1], best[2], best[3]


def transform_in_a_process(
    bodies: list[bytes], args: argparse.Namespace
) -> tuple[float, float, float, float]:
    """transform_figures in a fresh process of this script (``--transform-sample``), whose
    heap, like the Lambda's, holds nothing else."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        for n, body in enumerate(bodies):
            (Path(folder) / f"{n}.ndjson").write_bytes(body)
        done = subprocess.run(  # noqa: S603 - this interpreter, this script
            [
                sys.executable,
                __file__,
                "--transform-sample",
                folder,
                "--batch-rows",
                str(args.batch_rows),
                "--repeat",
                str(args.repeat),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    transform, as_batches, parse_only, unclassified = json.loads(done.stdout)
    return transform, as_batches, parse_only, unclassified


def firehose_e2e(
    cluster: Cluster, s3: Any, args: argparse.Namespace, pids: tuple[int, int]
) -> dict[str, Any]:
    s3.create_bucket(Bucket=BUCKET)
    started = time.perf_counter()
    objects, total, sample = upload_firehose(s3, args)
    print(
        f"\nEnd to end, Firehose-shaped objects ({objects:,} newline-delimited objects of"
        f" {total / objects / 2**20:.1f} MiB, {args.firehose_events:,} events, {total / 2**20:,.0f}"
        f" MiB; generated and uploaded in {time.perf_counter() - started:.0f} s)"
    )
    transform, as_batches, parse_only, unclassified = transform_in_a_process(sample, args)
    # this process holds the benchmark's own data (the load stage's rows, the events),
    # which the Lambda does not: out of the garbage collector's way, as there
    gc.collect()
    gc.freeze()
    run = e2e_etl(cluster, args.batch_rows, pids)
    empty_bucket(s3)
    if run.events != args.firehose_events:
        raise RuntimeError(f"the ETL inserted {run.events:,} of {args.firehose_events:,} events")
    print(
        f"  ETL handler, rollups included   {run.rate:10,.0f} events/s  ({run.events:,} rows;"
        f" rollup refresh {run.rollup_seconds:.2f} s of {run.seconds:.2f} s)"
    )
    print(f"  ETL handler without the rollups {run.rate_without_rollups:10,.0f} events/s")
    parts = ", ".join(
        f"{name} {'n/a' if cpu is None else f'{cpu / run.events * 1e6:.1f}'} us"
        for name, cpu in run.cpu.items()
    )
    print(f"      CPU per event: {parts}")
    server = run.cpu["PostgreSQL"]
    if server is not None and run.rollup_server_cpu is not None:
        loading = (server - run.rollup_server_cpu) / run.events * 1e6
        print(
            f"      of PostgreSQL's: loading {loading:.1f} us,"
            f" the rollup refresh {run.rollup_server_cpu / run.events * 1e6:.1f} us"
        )
    cores = os.cpu_count() or 1
    if None not in run.cpu.values():
        cap = run.events / (sum(run.cpu.values()) / cores)
        print(f"  ceiling: this run's CPU, {cores} cores{cap:10,.0f} events/s (every core busy)")
        if run.rollup_server_cpu is not None:
            load_cpu = sum(run.cpu.values()) - run.rollup_server_cpu  # type: ignore[arg-type]
            cap = run.events / (load_cpu / cores)
            print(f"      the same without the rollup refresh {cap:10,.0f} events/s")
    sampled = sum(body.count(b"\n") for body in sample)
    print(
        f"  transform (read_parts, one thread, a process of its own) {transform:6.1f} us/event"
        f" on {sampled:,} of these events; the same events as batch objects of 100"
        f" {as_batches:.1f} us/event; json.loads alone {parse_only:.1f} us/event"
    )
    print(
        f"      of which visitor classification {transform - unclassified:.1f} us/event"
        f" (the same transform with it answering a constant: {unclassified:.1f} us/event;"
        f" target: at most 25 with it: {'met' if transform <= 25 else 'NOT met'})"
    )
    return {
        "firehose": run.rate,
        "firehose without rollups": run.rate_without_rollups,
        "transform": transform,
        "transform as batches": as_batches,
        "json.loads": parse_only,
        "transform without classification": unclassified,
    }


# VmHWM, not ru_maxrss: a child's ru_maxrss keeps the forking parent's resident size
BIG_OBJECT_RUN = """
import contextlib, io, json, re, sys, time
from clickstream_etl import handler
event = json.loads(sys.argv[1])
started = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    summary = handler.handler(event, None)
status = open("/proc/self/status").read()
print(json.dumps({
    "rss_kib": int(re.search(r"VmHWM:\\s+(\\d+) kB", status).group(1)),
    "seconds": time.perf_counter() - started,
    "rows": summary["rows_inserted"],
    "events": summary["events_read"],
}))
"""


def lambda_memory_mb() -> int | None:
    """The ETL Lambda's memory as playbooks/lambdas.yml publishes it."""
    text = LAMBDAS_PLAYBOOK.read_text()
    found = re.search(r"Publish the ETL Lambda.*?lambda_function_memory_mb: (\d+)", text, re.S)
    return int(found.group(1)) if found else None


def big_object_rss(
    cluster: Cluster, s3: Any, args: argparse.Namespace, endpoint: str
) -> dict[str, Any]:
    """Peak RSS (VmHWM) of the handler in a process of its own, over one large
    newline-delimited object and over an empty hour (what it holds without any object)."""
    big_hour, empty_hour = HOUR + timedelta(hours=1), HOUR + timedelta(hours=2)
    s3.create_bucket(Bucket=BUCKET)
    target = int(args.big_object_mib * 2**20)
    body = next(firehose_bodies(10**9, target, seed=128))
    s3.put_object(Bucket=BUCKET, Key=firehose_key(big_hour, 0), Body=body)
    size, events = len(body), body.count(b"\n")
    del body
    settings = cluster.settings(cluster.fresh_database())
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": endpoint,
        **handler_env(settings, args.batch_rows),
    }

    def run(hour: datetime) -> dict[str, Any]:
        name = hour.strftime("%Y-%m-%dT%H")
        done = subprocess.run(  # noqa: S603 - this interpreter, this repository's handler
            [sys.executable, "-c", BIG_OBJECT_RUN, json.dumps({"from": name, "to": name})],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    empty, big = run(empty_hour), run(big_hour)
    empty_bucket(s3)
    if big["rows"] != events:
        raise RuntimeError(f"the ETL inserted {big['rows']:,} of the object's {events:,} events")
    memory = lambda_memory_mb()
    rss, floor = big["rss_kib"] / 1024, empty["rss_kib"] / 1024
    print(
        f"\nOne newline-delimited object of {size / 2**20:,.0f} MiB ({events:,} events), the"
        f" handler in a process of its own: {big['seconds']:.1f} s,"
        f" {events / big['seconds']:,.0f} events/s"
    )
    print(
        f"  peak RSS {rss:,.0f} MiB; the same process over an empty hour {floor:,.0f} MiB;"
        f" the ETL Lambda has {memory or '?'} MB"
        + (f" ({'within' if rss < memory else 'OVER'} it)" if memory else "")
    )
    return {"rss": rss, "rss floor": floor, "lambda memory": memory, "big object MiB": size / 2**20}


def print_targets(figures: dict[str, Any]) -> None:
    """Issue #14's targets, each next to what it is measured against, from this run."""

    def rate(name: str) -> str:
        return f"{figures[name]:,.0f}" if name in figures else "not run"

    print("\nIssue #14's targets, all from this run:")
    if "firehose" in figures:
        met = "MET" if figures["firehose"] >= 30_000 else "NOT MET"
        print(
            f"  ETL end to end, Firehose-shaped objects {rate('firehose')} events/s"
            f" (target >= 30,000: {met}); without the rollup refresh"
            f" {rate('firehose without rollups')}"
        )
        print(
            f"      next to: the load stage's bare COPY {rate('bare COPY')} rows/s (1 connection,"
            f" the ceiling), its ETL load {rate('ETL load')} rows/s (2 connections);"
            f" single-event objects {rate('single-event objects')} events/s"
        )
        met = "MET" if figures["transform"] <= 15 else "NOT MET"
        print(
            f"  transform on that data {figures['transform']:.1f} us/event (target <= 15: {met});"
            f" the same events as batch objects {figures['transform as batches']:.1f};"
            f" json.loads alone {figures['json.loads']:.1f} us/event"
        )
    if "rss" in figures:
        print(
            f"  peak RSS loading one {figures['big object MiB']:,.0f} MiB newline-delimited object"
            f" {figures['rss']:,.0f} MiB (empty hour {figures['rss floor']:,.0f} MiB; the ETL"
            f" Lambda has {figures['lambda memory']} MB)"
        )


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
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds of every measurement; each keeps its best"
    )
    parser.add_argument(
        "--firehose-events", type=int, default=1_000_000, help="0: no Firehose-shaped objects"
    )
    parser.add_argument("--firehose-mib", type=float, default=5.0, help="their size, MiB")
    parser.add_argument(
        "--big-object-mib", type=float, default=128.0, help="peak RSS over one such object; 0: no"
    )
    parser.add_argument("--skip-load", action="store_true", help="end to end only")
    parser.add_argument("--skip-e2e", action="store_true", help="load stage only")
    parser.add_argument("--transform-sample", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.transform_sample:  # the transform alone, in a process of its own
        bodies = [path.read_bytes() for path in sorted(args.transform_sample.iterdir())]
        print(json.dumps(transform_figures(bodies, args.batch_rows, args.repeat)))
        return

    rng = random.Random(20240501)  # noqa: S311 - synthetic data, not security
    events = [synthetic_event(rng, n) for n in range(args.load_events)]
    print(f"ETL benchmark; PostgreSQL 15 with default settings; {load_average()}")

    figures: dict[str, Any] = {}
    with pg_fixture.running_postgres(settings={}) as server:
        cluster = Cluster(server)
        if not args.skip_load:
            figures.update(load_stage(cluster, parsed_objects(events, 100), args))
        if not args.skip_e2e:
            figures.update(end_to_end(cluster, events, args))
    print_targets(figures)
    print(f"\n{load_average()}")


if __name__ == "__main__":
    main()
