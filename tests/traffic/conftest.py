"""The traffic generator against the lab's real endpoint: moto on a free port, the local
HTTP API (clickstream_lab.local_api) in front of the real ingest handler.

The moto server, bucket and endpoint fixtures are tests/local_api's own
(tests/fixtures/local_endpoint.py).
"""

from __future__ import annotations

import json
from typing import Any

from local_endpoint import (
    BUCKET,
    empty_bucket,
    function_env,
    ingest_endpoint,
    moto_endpoint,
    run_endpoint,
    s3,
)

__all__ = [
    "empty_bucket",
    "function_env",
    "ingest_endpoint",
    "moto_endpoint",
    "run_endpoint",
    "s3",
    "stored_events",
    "stored_objects",
]


def stored_objects(s3_client: Any) -> dict[str, Any]:
    """Every object of the raw bucket: key -> parsed JSON document."""
    found = {}
    paginator = s3_client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            body = s3_client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            found[item["Key"]] = json.loads(body)
    return found


def stored_events(s3_client: Any) -> list[dict[str, Any]]:
    """The client events in the bucket, single-event and batch objects alike."""
    events = []
    for key, document in stored_objects(s3_client).items():
        if key.rsplit("/", 1)[1].startswith("batch-"):
            events.extend(document["events"])
        else:
            events.append(document)
    return events
