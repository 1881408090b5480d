"""Load generated events into a DW through the real ETL: S3 objects, then the handler.

The events are written as the ingest Lambda's objects to a bucket (moto in process
unless ``AWS_ENDPOINT_URL`` or a client says otherwise), then the ETL Lambda's
``handler({"from", "to"})`` loads their hours, as many runs as the hour limit
needs, with its manifest, rejects and rollups.  Used by the dashboard tests.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from types import ModuleType
from typing import Any

from clickstream_tools import datagen

# the ETL's default limit of hours per manual run
HOURS_PER_RUN = 168


def etl_handler() -> ModuleType:
    """The ETL Lambda's handler module."""
    from clickstream_etl import handler

    return handler


def run_windows(first: str, last: str) -> Iterator[dict[str, str]]:
    """``{"from", "to"}`` requests covering first..last (``YYYY-MM-DDTHH``), each <= 168 h."""
    start = datetime.strptime(first, "%Y-%m-%dT%H")
    end = datetime.strptime(last, "%Y-%m-%dT%H")
    if end < start:
        raise ValueError(f"hour range {first}..{last} is empty")
    while start <= end:
        stop = min(start + timedelta(hours=HOURS_PER_RUN - 1), end)
        yield {"from": start.strftime("%Y-%m-%dT%H"), "to": stop.strftime("%Y-%m-%dT%H")}
        start = stop + timedelta(hours=1)


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load(
    events: list[dict[str, Any]],
    s3: Any,
    bucket: str,
    etl_env: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Write the events' raw objects to ``bucket`` and run the ETL over their hours.

    ``etl_env`` is the ETL's environment (``DW_PG_*`` as ``etl_writer``); the bucket
    must exist.  Returns the ETL's summaries; raises if a run did not succeed.
    """
    span = datagen.hour_range(events)
    if span is None:
        return []
    datagen.write_s3(s3, bucket, datagen.raw_objects(events))
    handler = etl_handler()
    summaries = []
    with _environment({**etl_env, "RAW_BUCKET_NAME": bucket}):
        for window in run_windows(*span):
            summary = handler.handler(window, None)
            if summary.get("status") != "succeeded":
                raise RuntimeError(f"ETL run {window} did not succeed: {summary}")
            summaries.append(summary)
    return summaries
