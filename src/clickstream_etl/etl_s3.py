"""List the hour prefixes of the raw bucket and read objects concurrently, as streams.

An object's GET body is read in chunks (:func:`body_chunks`, which resumes a read that
breaks off with a ranged GET of the same ETag) and turned into rows a part at a time
(etl_transform.read_parts): an object of one part comes back whole, a larger one as a
StreamedObject whose further parts are read while the loader loads them.  Memory holds
parts, never a whole large object.
"""

from __future__ import annotations

import sys
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
# COPY text of a part: an object with more is read and loaded part by part.
PART_BYTES = 8 * 1024 * 1024
# What the objects being read, or read and not yet loaded, may hold (estimated from
# their listed size, see read_estimate): bounds memory whatever the objects' sizes.
PREFETCH_BYTES = 48 * 1024 * 1024
# COPY text per stored byte assumed for that estimate: gzip of JSON inflates ~10x.
EXPANSION = 16
READ_CHUNK_BYTES = 256 * 1024
# ranged GETs that resume a read that broke off, per object
RESUME_ATTEMPTS = 3


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


def body_chunks(s3: Any, bucket: str, key: str, etag: str, response: Any) -> Iterator[bytes]:
    """An object's bytes in chunks, from its GET; a read that breaks off resumes.

    The rest is asked for with a ranged GET of the same ETag (``IfMatch``), at most
    :data:`RESUME_ATTEMPTS` times; then, or if the object changed, ObjectReadError.
    """
    body = response["Body"]
    offset = resumed = 0
    try:
        while True:
            try:
                chunk = body.read(READ_CHUNK_BYTES)
            except (BotoCoreError, OSError) as exc:
                body.close()
                broke = f"reading {key} broke off at byte {offset:,} ({type(exc).__name__}: {exc})"
                if resumed == RESUME_ATTEMPTS:
                    raise etl_transform.ObjectReadError(
                        f"{broke}, after {resumed} resumed reads"
                    ) from None
                resumed += 1
                try:
                    body = s3.get_object(
                        Bucket=bucket, Key=key, IfMatch=etag, Range=f"bytes={offset}-"
                    )["Body"]
                except (ClientError, BotoCoreError) as again:
                    raise etl_transform.ObjectReadError(
                        f"{broke}; resuming failed: {type(again).__name__}: {again}"
                    ) from None
                continue
            if not chunk:
                return
            offset += len(chunk)
            yield chunk
    finally:
        body.close()


def read_estimate(listed: ListedObject, part_bytes: int) -> int:
    """What reading the object may hold at most: a part, or less for a small object."""
    return min(part_bytes, max(listed.size, 1) * EXPANSION)


def fetch_one(
    s3: Any,
    bucket: str,
    listed: ListedObject,
    max_bytes: int,
    part_rows: int = sys.maxsize,
    part_bytes: int = PART_BYTES,
) -> etl_transform.Loadable | FetchFailure:
    """GET one object and read its first part; the ETag and LastModified read are kept.

    Returns the whole object when it is one part, else a StreamedObject holding the
    open read; FetchFailure when it cannot be read.  ``max_bytes``: the largest JSON
    document read whole (ETL_MAX_DOCUMENT_BYTES); newline-delimited objects stream.
    """
    try:
        response = s3.get_object(Bucket=bucket, Key=listed.key)
    except (ClientError, BotoCoreError) as exc:
        return FetchFailure(listed, f"{type(exc).__name__}: {exc}")
    etag = clean_etag(response.get("ETag")) or listed.etag
    modified = response.get("LastModified")
    last_modified = modified.astimezone(UTC) if modified else listed.last_modified

    def parts(read: Any) -> Iterator[etl_transform.ParsedObject]:
        return etl_transform.read_parts(
            body_chunks(s3, bucket, listed.key, etag, read),
            key=listed.key,
            etag=etag,
            object_hour=listed.hour,
            last_modified=last_modified,
            size=int(response.get("ContentLength", listed.size)),
            max_document_bytes=max_bytes,
            part_rows=part_rows,
            part_bytes=part_bytes,
            keep_fields=False,
        )

    def reopen() -> Iterator[etl_transform.ParsedObject]:
        try:
            again = s3.get_object(Bucket=bucket, Key=listed.key, IfMatch=etag)
        except (ClientError, BotoCoreError) as exc:
            raise etl_transform.ObjectReadError(
                f"reading {listed.key} again failed: {type(exc).__name__}: {exc}"
            ) from None
        return parts(again)

    reader = parts(response)
    try:
        first = next(reader)
    except etl_transform.ObjectReadError as exc:
        return FetchFailure(listed, str(exc))
    if first.complete:
        reader.close()
        return first
    return etl_transform.StreamedObject(first, reader, reopen, source=listed)


def fetch_all(
    s3: Any,
    bucket: str,
    objects: Iterable[ListedObject],
    *,
    concurrency: int,
    max_bytes: int,
    part_rows: int = sys.maxsize,
    part_bytes: int = PART_BYTES,
) -> Iterator[etl_transform.Loadable | FetchFailure]:
    """Objects read (whole, or their first part) in completion order, ``concurrency`` GETs
    at a time.

    The caller loads batches while later GETs are still running.  The objects being
    read or read and not yet taken are at most ``concurrency * PREFETCH_PER_WORKER``,
    and hold at most :data:`PREFETCH_BYTES` as :func:`read_estimate` reckons (one at
    least); what the caller took is the caller's.
    """
    pending_objects = iter(objects)
    window = concurrency * PREFETCH_PER_WORKER
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="s3-get")
    in_flight: dict[Future, int] = {}  # each read's estimate

    def refill() -> None:
        held = sum(in_flight.values())
        while len(in_flight) < window and (held < PREFETCH_BYTES or not in_flight):
            listed = next(pending_objects, None)
            if listed is None:
                return
            future = pool.submit(fetch_one, s3, bucket, listed, max_bytes, part_rows, part_bytes)
            in_flight[future] = read_estimate(listed, part_bytes)
            held += in_flight[future]

    try:
        refill()
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                del in_flight[future]
                yield future.result()
            refill()
    finally:
        # the caller stopped early (a database error): do not start queued GETs
        pool.shutdown(wait=True, cancel_futures=True)
