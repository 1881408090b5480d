"""Everything the ETL does in PostgreSQL: runs, the exactly-once load, rejects.

Exactly once, concurrency-safe, without a global lock:

1. Each batch is one transaction.  It first *claims* its objects by inserting
   their manifest rows (key, ETag) with ``ON CONFLICT DO NOTHING RETURNING``.  A
   concurrent transaction claiming the same object blocks on the unique key until
   the first one commits (then gets nothing back and skips the object) or rolls
   back (then claims it itself).  Claims are made in key order, so two runs cannot
   deadlock on them.
2. Rows of the claimed objects only, sorted by event_id, are COPYed straight into
   the events table inside a savepoint.  If one of their event_ids is already there
   (a client's retry in another object), the savepoint is rolled back and the rows
   take the slower way: COPY into a temporary staging table, then ``INSERT ...
   SELECT ... ON CONFLICT (event_id) DO NOTHING``.
3. Rejects of the claimed objects and the event hours whose rollups are now stale
   are written in the same transaction, which then commits: an object's manifest
   row, events and rejects exist together or not at all.

An object too large for one part (etl_transform.StreamedObject: a newline-delimited
object of any size) is a transaction of its own, with the same guarantees: it is
claimed first (manifest row with counts of 0), then each part, as it is read, is
COPYed (2.) and its rejects written; the counts go into the manifest row last, the
hours are queued, and it commits.  A read that fails on the way (etl_s3 resumes a
broken GET, then gives up) rolls the whole object back and it is retried by the next
run; a deadlock or serialization failure retries it from a new read.  Memory holds a
part at a time; the transaction holds the object.
"""

from __future__ import annotations

import io
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions
from psycopg2 import sql

from clickstream_etl import etl_transform
from clickstream_etl.etl_config import Settings

STAGING_TABLE = "etl_staging"
# The events table's columns a load writes: etl_transform.COLUMNS (each row's COPY
# line), then the run's id; the table's other columns keep their defaults.
RUN_ID_COLUMN = "etl_run_id"
RETRYABLE = (psycopg2.errors.DeadlockDetected, psycopg2.errors.SerializationFailure)
BATCH_ATTEMPTS = 3
COPY_CHUNK_BYTES = 8 * 1024 * 1024

Connection = psycopg2.extensions.connection


def connect(settings: Settings) -> Connection:
    kwargs: dict[str, Any] = {
        "host": settings.pg_host,
        "port": settings.pg_port,
        "user": settings.pg_user,
        "password": settings.pg_password,
        "dbname": settings.pg_database,
        "connect_timeout": 10,
        "application_name": "clickstream-etl",
        # UTC for every date_trunc; room for a batch's staging rows in memory
        "options": "-c TimeZone=UTC -c temp_buffers=64MB",
    }
    if settings.pg_sslmode:
        kwargs["sslmode"] = settings.pg_sslmode
    if settings.pg_sslrootcert:
        kwargs["sslrootcert"] = settings.pg_sslrootcert
    return psycopg2.connect(**kwargs)


def target_identifier(settings: Settings) -> sql.Identifier:
    return sql.Identifier(settings.target_schema, settings.target_table)


# ---------------------------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------------------------
def start_run(
    conn: Connection, trigger: str, hours: Sequence[datetime], request_id: str | None
) -> int:
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO public.etl_runs (trigger, request_id, hours)"
            " VALUES (%s, %s, %s::timestamptz[]) RETURNING run_id",
            (trigger, request_id, list(hours)),
        )
        return int(cur.fetchone()[0])


# The counters of a run, defined here once: each is a key of the run's summary,
# a column of public.etl_runs, and (its value here) the run's EMF metric.
# BatchResult counts those a batch load adds to; a test holds it to this list.
RUN_COUNTERS = {
    "objects_seen": "ObjectsSeen",
    "objects_loaded": "ObjectsLoaded",
    "objects_already_loaded": "ObjectsAlreadyLoaded",
    "objects_rejected": "ObjectsRejected",
    "objects_failed": "ObjectsFailed",
    "events_read": "EventsRead",
    "events_rejected": "EventsRejected",
    "rows_inserted": "RowsInserted",
    "rows_duplicate": "RowsDuplicate",
    # rows whose classification changed (migration 0008's backlog, or a reclassification)
    "rows_reclassified": "RowsReclassified",
}


def finish_run(
    conn: Connection,
    run_id: int,
    counts: dict[str, int],
    status: str,
    duration_ms: int,
    error: str | None = None,
) -> None:
    assignments = sql.SQL(", ").join(
        sql.SQL("{} = %s").format(sql.Identifier(name)) for name in RUN_COUNTERS
    )
    query = sql.SQL(
        "UPDATE public.etl_runs SET {}, status = %s, error = %s, finished_at = now(),"
        " duration_ms = %s WHERE run_id = %s"
    ).format(assignments)
    with conn, conn.cursor() as cur:
        cur.execute(
            query,
            [counts.get(name, 0) for name in RUN_COUNTERS] + [status, error, duration_ms, run_id],
        )


# ---------------------------------------------------------------------------------------------
# manifest
# ---------------------------------------------------------------------------------------------
def loaded_versions(conn: Connection, keys: Sequence[str]) -> set[tuple[str, str]]:
    """(key, etag) pairs of these keys already in the manifest."""
    if not keys:
        return set()
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT object_key, etag FROM public.etl_manifest WHERE object_key = ANY(%s)",
            (list(keys),),
        )
        return {(key, etag) for key, etag in cur.fetchall()}


# ---------------------------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------------------------
@dataclass
class BatchResult:
    objects_loaded: int = 0
    objects_already_loaded: int = 0
    objects_rejected: int = 0
    events_read: int = 0
    events_rejected: int = 0
    rows_inserted: int = 0
    rows_duplicate: int = 0


CLAIM_SQL = """
INSERT INTO public.etl_manifest
    (object_key, etag, object_hour, last_modified, size_bytes, row_count, reject_count, run_id)
SELECT k, e, h, lm, sz, rc, jc, %s
FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[], %s::bigint[],
            %s::integer[], %s::integer[]) AS t(k, e, h, lm, sz, rc, jc)
ORDER BY k, e
ON CONFLICT (object_key, etag) DO NOTHING
RETURNING object_key, etag
"""

REJECTS_SQL = """
INSERT INTO public.etl_rejects (object_key, etag, event_index, reason, excerpt, run_id)
SELECT k, e, i, r, x, %s
FROM unnest(%s::text[], %s::text[], %s::integer[], %s::text[], %s::text[]) AS t(k, e, i, r, x)
"""

COUNTS_SQL = """
UPDATE public.etl_manifest SET row_count = %s, reject_count = %s
WHERE object_key = %s AND etag = %s
"""

PENDING_SQL = """
INSERT INTO public.etl_pending_rollups (event_hour)
SELECT DISTINCT h FROM unnest(%s::timestamptz[]) AS t(h) ORDER BY h
ON CONFLICT (event_hour) DO NOTHING
"""


def prepare_session(conn: Connection, settings: Settings) -> None:
    """The staging table, private to this connection, emptied at every commit."""
    query = sql.SQL(
        "CREATE TEMPORARY TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    ).format(sql.Identifier(STAGING_TABLE), target_identifier(settings))
    with conn, conn.cursor() as cur:
        cur.execute(query)


def _insert_sql(settings: Settings) -> sql.Composed:
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in etl_transform.COLUMNS)
    return sql.SQL(
        "INSERT INTO {target} ({columns}, {run_id}) SELECT {columns}, %s FROM {staging}"
        " ON CONFLICT (event_id) DO NOTHING"
    ).format(
        target=target_identifier(settings),
        columns=columns,
        run_id=sql.Identifier(RUN_ID_COLUMN),
        staging=sql.Identifier(STAGING_TABLE),
    )


def _copy_sql() -> str:
    columns = ", ".join(etl_transform.COLUMNS)
    return f"COPY {STAGING_TABLE} ({columns}) FROM STDIN"


def _direct_copy_sql(settings: Settings) -> sql.Composed:
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in etl_transform.COLUMNS)
    return sql.SQL("COPY {target} ({columns}, {run_id}) FROM STDIN").format(
        target=target_identifier(settings), columns=columns, run_id=sql.Identifier(RUN_ID_COLUMN)
    )


def _insert_rows(
    cur: psycopg2.extensions.cursor, settings: Settings, run_id: int, data: bytes, count: int
) -> int:
    """Insert ``count`` COPY lines of unique event_ids; returns how many were new.

    Straight into the events table when none of them is there yet (the usual case:
    about 0.6 of the server CPU of the staging way); else through the staging table,
    which skips the event_ids already loaded.
    """
    cur.execute("SAVEPOINT etl_direct_copy")
    try:
        # a raw newline only ever ends a line in COPY text: add the run id as last column
        with_run_id = data.replace(b"\n", b"\t%d\n" % run_id)
        cur.copy_expert(
            _direct_copy_sql(settings).as_string(cur),
            io.BytesIO(with_run_id),
            size=COPY_CHUNK_BYTES,
        )
    except psycopg2.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT etl_direct_copy")
    else:
        cur.execute("RELEASE SAVEPOINT etl_direct_copy")
        return count
    cur.copy_expert(_copy_sql(), io.BytesIO(data), size=COPY_CHUNK_BYTES)
    cur.execute(_insert_sql(settings), (run_id,))
    inserted = cur.rowcount
    # emptied now, not at commit: an object loaded in parts may come this way again
    cur.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(STAGING_TABLE)))
    return inserted


def _claim(
    cur: psycopg2.extensions.cursor,
    run_id: int,
    objects: Sequence[etl_transform.ParsedObject],
    counted: bool = True,
) -> set[tuple[str, str]]:
    """Claim the objects (sorted by key and ETag); the (key, etag) pairs claimed.

    ``counted`` false: their counts are not known yet (0 until :data:`COUNTS_SQL`).
    """
    cur.execute(
        CLAIM_SQL,
        (
            run_id,
            [o.key for o in objects],
            [o.etag for o in objects],
            [o.object_hour for o in objects],
            [o.last_modified for o in objects],
            [o.size for o in objects],
            [len(o.rows) if counted else 0 for o in objects],
            [len(o.rejects) if counted else 0 for o in objects],
        ),
    )
    return set(cur.fetchall())


def _write_rejects(
    cur: psycopg2.extensions.cursor, run_id: int, objects: Iterable[etl_transform.ParsedObject]
) -> None:
    rejects = [(o, r) for o in objects for r in o.rejects]
    if rejects:
        cur.execute(
            REJECTS_SQL,
            (
                run_id,
                [o.key for o, _ in rejects],
                [o.etag for o, _ in rejects],
                [r.event_index for _, r in rejects],
                [r.reason for _, r in rejects],
                [r.excerpt for _, r in rejects],
            ),
        )


def _insert_unique(
    cur: psycopg2.extensions.cursor,
    settings: Settings,
    run_id: int,
    objects: Sequence[etl_transform.ParsedObject],
) -> tuple[list[etl_transform.Row], int]:
    """The objects' rows, first of each event_id (sorted), and how many were new."""
    rows = etl_transform.unique_rows(objects)
    if not rows:
        return rows, 0
    # few large writes: each one re-takes the GIL from the threads parsing objects
    data = b"".join(row.copy_line for row in rows)
    return rows, _insert_rows(cur, settings, run_id, data, len(rows))


def _load_once(
    conn: Connection,
    settings: Settings,
    run_id: int,
    objects: Sequence[etl_transform.ParsedObject],
    before_commit: Callable[[], None] | None,
) -> BatchResult:
    result = BatchResult()
    ordered = sorted(objects, key=lambda o: (o.key, o.etag))
    with conn, conn.cursor() as cur:
        claimed_keys = _claim(cur, run_id, ordered)
        claimed = [o for o in ordered if (o.key, o.etag) in claimed_keys]
        result.objects_already_loaded = len(ordered) - len(claimed)
        result.objects_loaded = sum(1 for o in claimed if not o.object_rejected)
        result.objects_rejected = sum(1 for o in claimed if o.object_rejected)
        result.events_rejected = sum(o.events_rejected for o in claimed)
        result.events_read = sum(o.events_read for o in claimed)

        rows, result.rows_inserted = _insert_unique(cur, settings, run_id, claimed)
        result.rows_duplicate = sum(len(o.rows) for o in claimed) - result.rows_inserted
        _write_rejects(cur, run_id, claimed)
        if result.rows_inserted:
            cur.execute(PENDING_SQL, (sorted({row.event_hour for row in rows}),))
        if before_commit is not None:
            before_commit()
    return result


def _load_parts(
    conn: Connection,
    settings: Settings,
    run_id: int,
    first: etl_transform.ParsedObject,
    parts: Iterator[etl_transform.ParsedObject],
    before_commit: Callable[[], None] | None,
) -> BatchResult:
    """One object, part after part, in one transaction (see the module's docstring)."""
    result = BatchResult()
    with conn, conn.cursor() as cur:
        if not _claim(cur, run_id, [first], counted=False):
            result.objects_already_loaded = 1
            return result
        hours: set[datetime] = set()
        valid = rejected = 0
        for part in parts:
            rows, inserted = _insert_unique(cur, settings, run_id, [part])
            if inserted:
                hours.update(row.event_hour for row in rows)
            result.rows_inserted += inserted
            _write_rejects(cur, run_id, [part])
            valid += len(part.rows)
            rejected += len(part.rejects)
        cur.execute(COUNTS_SQL, (valid, rejected, first.key, first.etag))
        if hours:
            cur.execute(PENDING_SQL, (sorted(hours),))
        result.objects_loaded = 1
        result.events_rejected = rejected
        result.events_read = valid + rejected
        result.rows_duplicate = valid - result.rows_inserted
        if before_commit is not None:
            before_commit()
    return result


class _ReadAhead:
    """An object's parts read by a thread of their own, one part ahead of their load.

    While the server takes one part's COPY, the next part is read and mapped: a large
    object's reading and loading overlap, and memory holds one more part.  What the
    reading raises comes out of ``next``; :meth:`close` stops the thread (which
    closes the reader, hence the GET) whether or not the parts were all taken.
    """

    _END = object()

    def __init__(self, parts: Iterator[etl_transform.ParsedObject]) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(
            target=self._read, args=(parts,), name="dw-read-ahead", daemon=True
        )
        self._thread.start()

    def _read(self, parts: Iterator[etl_transform.ParsedObject]) -> None:
        try:
            for part in parts:
                if not self._hand(part):
                    return
            self._hand(self._END)
        except BaseException as exc:  # handed to the loading thread
            self._hand(exc)
        finally:
            _close(parts)

    def _hand(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            return True
        return False

    def __iter__(self) -> Iterator[etl_transform.ParsedObject]:
        return self

    def __next__(self) -> etl_transform.ParsedObject:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if item is self._END or isinstance(item, BaseException):
            self._done = True
            if isinstance(item, BaseException):
                raise item
            raise StopIteration
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def load_streamed(
    conn: Connection,
    settings: Settings,
    run_id: int,
    streamed: etl_transform.StreamedObject,
    before_commit: Callable[[], None] | None = None,
) -> BatchResult:
    """Load an object read in parts in one transaction; a retry reads it again.

    When its bytes cannot be read, nothing of it is loaded: ``streamed.error`` says
    why, and the result counts nothing (the next run loads it).
    """
    parts: Iterator[etl_transform.ParsedObject] = _ReadAhead(streamed.rest)
    try:
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                first = streamed.first if attempt == 1 else next(parts)
                return _load_parts(
                    conn, settings, run_id, first, chain([first], parts), before_commit
                )
            except RETRYABLE:
                if attempt == BATCH_ATTEMPTS:
                    raise
                _close(parts)
                time.sleep(0.05 * attempt)
                parts = _ReadAhead(streamed.reopen())
    except etl_transform.ObjectReadError as exc:
        streamed.error = str(exc)
        return BatchResult()
    finally:
        _close(parts)
        streamed.close()
    raise AssertionError("unreachable")


def _close(parts: Iterator[Any]) -> None:
    close = getattr(parts, "close", None)
    if close is not None:
        close()


def load_batch(
    conn: Connection,
    settings: Settings,
    run_id: int,
    objects: Sequence[etl_transform.Loadable],
    before_commit: Callable[[], None] | None = None,
) -> BatchResult:
    """Load the objects in one transaction; retried on deadlock or serialization failure.

    An object read in parts (a StreamedObject) comes alone: :func:`load_streamed`.
    ``before_commit`` runs inside the transaction just before COMMIT (fault injection
    for tests: a database that disappears there must leave nothing behind).
    """
    if len(objects) == 1 and isinstance(objects[0], etl_transform.StreamedObject):
        return load_streamed(conn, settings, run_id, objects[0], before_commit)
    for attempt in range(1, BATCH_ATTEMPTS + 1):
        try:
            return _load_once(conn, settings, run_id, objects, before_commit)
        except RETRYABLE:
            if attempt == BATCH_ATTEMPTS:
                raise
            time.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


class BatchLoader:
    """Load batches on one or two connections, each batch its own transaction.

    With two connections, one batch's COPY and INSERT run while the other's do,
    which the claim protocol makes as safe as two runs at once.  Results are
    handed to ``on_result`` in the caller's thread.  :meth:`close` waits for every
    batch in flight (each commits or rolls back whole) and re-raises the first error.
    """

    def __init__(
        self,
        connections: Sequence[Connection],
        settings: Settings,
        run_id: int,
        on_result: Callable[[Sequence[etl_transform.Loadable], BatchResult], None],
    ) -> None:
        self._free = list(connections)
        self._settings = settings
        self._run_id = run_id
        self._on_result = on_result
        self._pool = (
            ThreadPoolExecutor(len(connections), thread_name_prefix="dw-load")
            if len(connections) > 1
            else None
        )
        self._running: dict[Future, tuple[Connection, Sequence[etl_transform.Loadable]]] = {}

    def submit(self, batch: Sequence[etl_transform.Loadable]) -> None:
        if self._pool is None:
            self._on_result(batch, load_batch(self._free[0], self._settings, self._run_id, batch))
            return
        while not self._free:
            self._harvest(FIRST_COMPLETED)
        conn = self._free.pop()
        future = self._pool.submit(load_batch, conn, self._settings, self._run_id, batch)
        self._running[future] = (conn, batch)

    def _harvest(self, return_when: str) -> None:
        done, _ = wait(self._running, return_when=return_when)
        errors = []
        for future in done:
            conn, batch = self._running.pop(future)
            self._free.append(conn)
            try:
                self._on_result(batch, future.result())
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def close(self) -> None:
        if self._pool is None:
            return
        try:
            if self._running:
                self._harvest(ALL_COMPLETED)
        finally:
            self._pool.shutdown(wait=True)
