"""List the hour prefixes of the raw bucket and fetch objects concurrently."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from clickstream_etl import etl_transform
from clickstream_etl.etl_window import hour_prefix

# In-flight GETs per worker: keeps the pool busy without buffering a whole hour.
PREFETCH_PER_WORKER = 4


@dataclass(frozen=True)
class ListedObject:
    key: str
    etag: str
    hour: datetime
    last_modified: datetime | None
    size: int


@dataclass(frozen=True)
class FetchFailure:
    """An object that could not be read (after retries); it is retried on the next run."""

    listed: ListedObject
    error: str


def make_client(concurrency: int) -> Any:
    """An S3 client whose connection pool matches the fetch pool; standard retries.

    Created plainly so ``AWS_ENDPOINT_URL`` points it at the lab's moto server.
    """
    config = Config(
        max_pool_connections=max(10, concurrency),
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=30,
    )
    return boto3.client("s3", config=config)


def clean_etag(etag: str | None) -> str:
    return (etag or "").strip('"')


def list_hour(s3: Any, bucket: str, hour: datetime) -> list[ListedObject]:
    objects = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=hour_prefix(hour)):
        for item in page.get("Contents", []):
            if item["Key"].endswith("/"):  # a console "folder", not an object
                continue
            last_modified = item.get("LastModified")
            objects.append(
                ListedObject(
                    key=item["Key"],
                    etag=clean_etag(item.get("ETag")),
                    hour=hour,
                    last_modified=last_modified.astimezone(UTC) if last_modified else None,
                    size=int(item.get("Size", 0)),
                )
            )
    return objects


def list_hours(
    s3: Any, bucket: str, hours: Iterable[datetime]
) -> dict[datetime, list[ListedObject]]:
    return {hour: list_hour(s3, bucket, hour) for hour in hours}


def fetch_one(
    s3: Any, bucket: str, listed: ListedObject, max_bytes: int
) -> etl_transform.ParsedObject | FetchFailure:
    """GET and parse one object; the ETag and LastModified of what was read are kept."""
    parsed_meta = {
        "key": listed.key,
        "etag": listed.etag,
        "object_hour": listed.hour,
        "last_modified": listed.last_modified,
        "size": listed.size,
    }
    if listed.size > max_bytes:
        return etl_transform.reject_object(
            etl_transform.ParsedObject(**parsed_meta),
            f"object is {listed.size} bytes, over the limit of {max_bytes} (ETL_MAX_OBJECT_BYTES)",
        )
    try:
        response = s3.get_object(Bucket=bucket, Key=listed.key)
        body = response["Body"].read()
    except (ClientError, BotoCoreError) as exc:
        return FetchFailure(listed, f"{type(exc).__name__}: {exc}")
    if response.get("ETag"):
        parsed_meta["etag"] = clean_etag(response["ETag"])
    if response.get("LastModified"):
        parsed_meta["last_modified"] = response["LastModified"].astimezone(UTC)
    parsed_meta["size"] = len(body)
    if len(body) > max_bytes:
        return etl_transform.reject_object(
            etl_transform.ParsedObject(**parsed_meta),
            f"object is {len(body)} bytes, over the limit of {max_bytes} (ETL_MAX_OBJECT_BYTES)",
        )
    return etl_transform.parse_object(body, **parsed_meta)


def fetch_all(
    s3: Any,
    bucket: str,
    objects: Iterable[ListedObject],
    *,
    concurrency: int,
    max_bytes: int,
) -> Iterator[etl_transform.ParsedObject | FetchFailure]:
    """Parsed objects in completion order, with at most ``concurrency`` GETs at a time.

    The caller loads batches while later GETs are still running; the pool never
    holds more than ``concurrency * PREFETCH_PER_WORKER`` finished objects.
    """
    pending_objects = iter(objects)
    window = concurrency * PREFETCH_PER_WORKER
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="s3-get")
    in_flight: set[Future] = set()

    def refill() -> None:
        while len(in_flight) < window:
            listed = next(pending_objects, None)
            if listed is None:
                return
            in_flight.add(pool.submit(fetch_one, s3, bucket, listed, max_bytes))

    try:
        refill()
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                in_flight.discard(future)
                yield future.result()
            refill()
    finally:
        # the caller stopped early (a database error): do not start queued GETs
        pool.shutdown(wait=True, cancel_futures=True)
