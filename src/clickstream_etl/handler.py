"""ETL Lambda: load an hour range of raw clickstream objects from S3 into the DW.

Contract (docs/contracts.md#etl-lambda): ``handler(event, context)``; env ``RAW_BUCKET_NAME``,
``DW_PG_HOST``, ``DW_PG_PORT``, ``DW_PG_USER``, ``DW_PG_PASSWORD``,
``DW_PG_DATABASE``, ``DW_PG_SSL``, ``TARGET_TABLE``, ``MAX_RECORDS_PER_BATCH``;
an EventBridge scheduled event -> the previous UTC hour plus a look-back
(``ETL_LOOKBACK_HOURS``, default 2); ``{"from": "YYYY-MM-DDTHH", "to": ...}`` ->
those hours.  Every raw shape under an hour prefix is read, as a stream
(docs/contracts.md#raw-objects).  Returns a JSON summary.  Raises (so the invocation
fails and is retried) on bad input, on a database failure and when objects could not
be read.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from typing import Any

from clickstream_common.logs import JsonLogger, emf_record, write_line
from clickstream_etl import (
    etl_classify,
    etl_db,
    etl_reclassify,
    etl_rollups,
    etl_s3,
    etl_transform,
)
from clickstream_etl.etl_config import Settings
from clickstream_etl.etl_window import Request, format_hour, resolve

SERVICE = "clickstream-etl"

# Objects per transaction, whatever their size: bounds the manifest claim.
MAX_OBJECTS_PER_BATCH = 2000
# COPY text per transaction of whole objects, whatever their records: bounds memory.
MAX_BATCH_BYTES = etl_s3.PART_BYTES


class EtlIncompleteError(RuntimeError):
    """Some objects could not be read, or time ran out: the run must be repeated."""


def batches(
    fetched: Iterable[etl_transform.Loadable | etl_s3.FetchFailure],
    max_rows: int,
    failures: list[etl_s3.FetchFailure],
) -> Iterator[list[etl_transform.Loadable]]:
    """Group whole objects into batches of about ``max_rows`` records (and at most about
    MAX_BATCH_BYTES of COPY text); an object read in parts is a batch of its own."""
    batch: list[etl_transform.Loadable] = []
    records = copy_bytes = 0
    for item in fetched:
        if isinstance(item, etl_s3.FetchFailure):
            failures.append(item)
            continue
        if isinstance(item, etl_transform.StreamedObject):
            yield [item]
            continue
        batch.append(item)
        records += len(item.rows) + len(item.rejects)
        copy_bytes += item.copy_bytes
        if (
            records >= max_rows
            or copy_bytes >= MAX_BATCH_BYTES
            or len(batch) >= MAX_OBJECTS_PER_BATCH
        ):
            yield batch
            batch, records, copy_bytes = [], 0, 0
    if batch:
        yield batch


def _remaining_ms(context: Any) -> int | None:
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return int(getter()) if callable(getter) else None


def _dry_run(
    conn: etl_db.Connection, request: Request, listed: dict, log: JsonLogger
) -> dict[str, Any]:
    keys = [obj.key for objects in listed.values() for obj in objects]
    loaded = etl_db.loaded_versions(conn, keys)
    hours = []
    for hour, objects in listed.items():
        pending = [o.key for o in objects if (o.key, o.etag) not in loaded]
        hours.append(
            {
                "hour": format_hour(hour),
                "objects": len(objects),
                "already_loaded": len(objects) - len(pending),
                "to_load": len(pending),
                "keys_to_load": pending[:1000],
            }
        )
    summary = {
        "dry_run": True,
        "trigger": request.trigger,
        "hours": hours,
        "objects_seen": len(keys),
        "objects_to_load": sum(h["to_load"] for h in hours),
    }
    log.info("dry run", **{k: v for k, v in summary.items() if k != "hours"})
    return summary


def run(event: Any, context: Any, settings: Settings, log: JsonLogger) -> dict[str, Any]:
    started = time.monotonic()
    request = resolve(
        event, lookback_hours=settings.lookback_hours, max_hours=settings.max_hours_per_run
    )
    hour_names = [format_hour(h) for h in request.hours]
    log.bind(trigger=request.trigger)
    log.info("run requested", hours=hour_names, dry_run=request.dry_run)
    etl_classify.set_extra_bot_agents(settings.extra_bot_agents)
    if request.trigger == "reclassify":
        return _reclassify(request, context, settings, log, started)

    s3 = etl_s3.make_client(settings.fetch_concurrency)
    listed = etl_s3.list_hours(s3, settings.bucket, request.hours)
    conn = etl_db.connect(settings)
    try:
        if request.dry_run:
            return _dry_run(conn, request, listed, log)
        return _load(conn, s3, request, listed, context, settings, log, started)
    finally:
        conn.close()


def _load(
    conn: etl_db.Connection,
    s3: Any,
    request: Request,
    listed: dict,
    context: Any,
    settings: Settings,
    log: JsonLogger,
    started: float,
) -> dict[str, Any]:
    request_id = getattr(context, "aws_request_id", None)
    run_id = etl_db.start_run(conn, request.trigger, request.hours, request_id)
    log.bind(run_id=run_id)
    counts = dict.fromkeys(etl_db.RUN_COUNTERS, 0)
    all_objects = [obj for objects in listed.values() for obj in objects]
    counts["objects_seen"] = len(all_objects)
    failures: list[etl_s3.FetchFailure] = []
    try:
        loaded = etl_db.loaded_versions(conn, [o.key for o in all_objects])
        pending = [o for o in all_objects if (o.key, o.etag) not in loaded]
        counts["objects_already_loaded"] = len(all_objects) - len(pending)
        # stop loading this long before the Lambda's timeout (at most a fifth of it)
        initial = _remaining_ms(context)
        margin = None if initial is None else min(settings.time_margin_ms, initial // 5)
        out_of_time = False

        def record(batch: list, result: etl_db.BatchResult) -> None:
            for name, value in vars(result).items():
                counts[name] += value
            for item in batch:  # an object read in parts whose read broke off
                if getattr(item, "error", None):
                    failures.append(etl_s3.FetchFailure(item.source, item.error))
            log.info("batch loaded", objects=len(batch), **vars(result))

        connections = [conn]
        if settings.load_connections > 1 and len(pending) > 1:
            connections.append(etl_db.connect(settings))
        fetched = etl_s3.fetch_all(
            s3,
            settings.bucket,
            pending,
            concurrency=settings.fetch_concurrency,
            max_bytes=settings.max_document_bytes,
            part_rows=settings.max_records_per_batch,
        )
        try:
            for connection in connections:
                etl_db.prepare_session(connection, settings)
            loader = etl_db.BatchLoader(connections, settings, run_id, record)
            # on any exit: queued GETs are cancelled, batches in flight finish whole
            with contextlib.closing(fetched), contextlib.closing(loader):
                for batch in batches(fetched, settings.max_records_per_batch, failures):
                    loader.submit(batch)
                    if margin is not None and _remaining_ms(context) < margin:
                        out_of_time = True
                        break
            counts["objects_failed"] = len(failures)
            # rows loaded before migration 0008: a bounded batch of their hours per run
            backlog = etl_reclassify.backfill(
                conn, etl_db.target_identifier(settings), settings.classify_hours_per_run
            )
            counts["rows_reclassified"] = backlog.rows_reclassified
            # the second connection, if any, refreshes half of the rollups
            helper = connections[1] if len(connections) > 1 else None
            refreshed = etl_rollups.refresh(
                conn,
                etl_db.target_identifier(settings),
                helper=helper,
                bot_events_per_second=settings.bot_events_per_second,
            )
        finally:
            for extra in connections[1:]:
                extra.close()
        problems = []
        if failures:
            for failure in failures[:20]:
                log.error("object could not be read", key=failure.listed.key, error=failure.error)
            problems.append(
                f"{len(failures)} object(s) could not be read, first: {failures[0].listed.key}"
            )
        if out_of_time:
            problems.append("stopped early: the Lambda was about to time out")
        status = "failed" if problems else "succeeded"
        duration_ms = int((time.monotonic() - started) * 1000)
        etl_db.finish_run(conn, run_id, counts, status, duration_ms, "; ".join(problems) or None)
    except Exception as exc:
        duration_ms = int((time.monotonic() - started) * 1000)
        _record_failure(settings, run_id, counts, duration_ms, exc, log)
        raise
    summary = {
        "run_id": run_id,
        "trigger": request.trigger,
        "status": status,
        "hours": [format_hour(h) for h in request.hours],
        **counts,
        "rollup_hours_refreshed": len(refreshed),
        "duration_ms": duration_ms,
    }
    _publish(settings, summary, log)
    if problems:
        raise EtlIncompleteError("; ".join(problems) + f" (run {run_id}: repeat the run)")
    return summary


def _reclassify(
    request: Request, context: Any, settings: Settings, log: JsonLogger, started: float
) -> dict[str, Any]:
    """Classify the loaded events of the request's hours again (etl_reclassify); the
    dry run only counts what would change."""
    target = etl_db.target_identifier(settings)
    conn = etl_db.connect(settings)
    try:
        if request.dry_run:
            found = etl_reclassify.reclassify(conn, target, request.hours, dry_run=True)
            summary = {"dry_run": True, "trigger": request.trigger, **found.summary()}
            log.info("reclassification dry run", **summary)
            return summary
        run_id = etl_db.start_run(
            conn, request.trigger, request.hours, getattr(context, "aws_request_id", None)
        )
        log.bind(run_id=run_id)
        counts = dict.fromkeys(etl_db.RUN_COUNTERS, 0)
        try:
            found = etl_reclassify.reclassify(conn, target, request.hours)
            counts["rows_reclassified"] = found.rows_reclassified
            refreshed = etl_rollups.refresh(
                conn, target, bot_events_per_second=settings.bot_events_per_second
            )
            duration_ms = int((time.monotonic() - started) * 1000)
            etl_db.finish_run(conn, run_id, counts, "succeeded", duration_ms)
        except Exception as exc:
            duration_ms = int((time.monotonic() - started) * 1000)
            _record_failure(settings, run_id, counts, duration_ms, exc, log)
            raise
    finally:
        conn.close()
    summary = {
        "run_id": run_id,
        "trigger": request.trigger,
        "status": "succeeded",
        "hours": [format_hour(h) for h in request.hours],
        **counts,
        **found.summary(),
        "rollup_hours_refreshed": len(refreshed),
        "duration_ms": duration_ms,
    }
    _publish(settings, summary, log)
    return summary


def _record_failure(
    settings: Settings,
    run_id: int,
    counts: dict[str, int],
    duration_ms: int,
    exc: Exception,
    log: JsonLogger,
) -> None:
    """Best effort, on a fresh connection: the run's own connection may be the casualty."""
    log.error("run failed", error=f"{type(exc).__name__}: {exc}", **counts)
    try:
        conn = etl_db.connect(settings)
    except Exception as second:  # the database is gone: the run stays 'running'
        log.error("could not record the failure", error=f"{type(second).__name__}: {second}")
        return
    try:
        etl_db.finish_run(
            conn, run_id, counts, "failed", duration_ms, f"{type(exc).__name__}: {exc}"[:2000]
        )
    except Exception as second:
        log.error("could not record the failure", error=f"{type(second).__name__}: {second}")
    finally:
        conn.close()


def _publish(settings: Settings, summary: dict[str, Any], log: JsonLogger) -> None:
    metrics: dict[str, int | float] = {
        metric: summary[name] for name, metric in etl_db.RUN_COUNTERS.items()
    }
    metrics["DurationMs"] = summary["duration_ms"]
    write_line(
        emf_record(
            settings.metrics_namespace,
            metrics,
            {"Trigger": summary["trigger"]},
            properties={"run_id": summary["run_id"], "status": summary["status"]},
            units={"DurationMs": "Milliseconds"},
        )
    )
    log.info("run finished", **summary)


def handler(event: Any, context: Any) -> dict[str, Any]:
    log = JsonLogger(SERVICE, request_id=getattr(context, "aws_request_id", None))
    try:
        settings = Settings.from_env()
        return run(event, context, settings, log)
    except Exception as exc:
        log.error("invocation failed", error=f"{type(exc).__name__}: {exc}")
        raise
