"""The traffic generator against the lab's real endpoint: moto on a free port, the local
HTTP API (lambda_src/local_api/server.py) in front of the real ingest handler.

The moto server, bucket and endpoint fixtures are lambda_src/local_api's own, imported
from its conftest rather than copied.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
TRAFFIC_DIR = REPO / "tools" / "traffic"
SCRIPT = TRAFFIC_DIR / "clickstream_traffic.py"
for extra in (TRAFFIC_DIR, REPO / "tools" / "datagen"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

_spec = importlib.util.spec_from_file_location(
    "local_api_fixtures", REPO / "lambda_src" / "local_api" / "tests" / "conftest.py"
)
assert _spec is not None
assert _spec.loader is not None
local_api = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(local_api)

BUCKET = local_api.BUCKET
INGEST_DIR = local_api.INGEST_DIR
run_endpoint = local_api.run_endpoint
# fixtures: pytest finds them in this module's namespace
moto_endpoint = local_api.moto_endpoint
s3 = local_api.s3
empty_bucket = local_api.empty_bucket
function_env = local_api.function_env
ingest_endpoint = local_api.ingest_endpoint


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
