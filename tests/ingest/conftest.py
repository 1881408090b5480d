"""Fixtures for the ingest handler's unit tests: moto in process, payload 2.0 events."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

EVENTS_DIR = Path(__file__).resolve().parent / "events"
BUCKET = "clickstream-raw-test"

# An HTTP API payload 2.0 event as API Gateway sends it for POST /clickstream (no body).
BASE_EVENT: dict[str, Any] = json.loads((EVENTS_DIR / "http_api_post_clickstream.json").read_text())

# A frontend event as docs/contracts.md#browser-event-payload describes it (the benchmark
# uses it too).
VIEW_PRODUCT = json.loads((EVENTS_DIR / "product_view.json").read_text())


def load_handler_module() -> Any:
    """The ingest Lambda's handler module."""
    from clickstream_ingest import handler

    return handler


_UNSET: Any = object()


def build_event(
    body: Any = _UNSET,
    *,
    raw: Any = _UNSET,
    method: str | None = None,
    b64: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """A payload 2.0 event.

    ``body`` is JSON-encoded; ``raw`` is the body verbatim (any value, even None);
    with neither the event has no body.  ``b64`` base64-encodes a text body as API
    Gateway does for non-text content types; ``method`` replaces
    ``requestContext.http.method``; other keywords replace top-level keys.
    """
    event = copy.deepcopy(BASE_EVENT)
    if raw is not _UNSET:
        event["body"] = raw
    elif body is not _UNSET:
        event["body"] = json.dumps(body, ensure_ascii=False)
    if b64 and isinstance(event.get("body"), str):
        event["body"] = base64.b64encode(event["body"].encode("utf-8", "surrogatepass")).decode()
        event["isBase64Encoded"] = True
    if method is not None:
        event["requestContext"]["http"]["method"] = method
    event.update(overrides)
    return event


@pytest.fixture(scope="session")
def ingest() -> Any:
    return load_handler_module()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "INGEST_SINK",
        "DELIVERY_STREAM_NAME",
        "MAX_BODY_BYTES",
        "MAX_BATCH_EVENTS",
        "ALLOWED_EVENT_NAMES",
        "LOG_LEVEL",
        "AWS_LAMBDA_LOG_LEVEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-1")
    monkeypatch.setenv("RAW_BUCKET_NAME", BUCKET)


@pytest.fixture(scope="session")
def moto_s3() -> Any:
    """moto in process for the whole session (a fresh mock per test costs a new boto3 session)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.delenv("AWS_ENDPOINT_URL", raising=False)
        patch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
        with mock_aws():
            client = boto3.client("s3", region_name="ap-southeast-1")
            client.create_bucket(
                Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"}
            )
            yield client


@pytest.fixture
def s3(aws_env: None, moto_s3: Any) -> Any:
    """The raw bucket in moto, emptied before the test; the handler's client talks to it."""
    for item in moto_s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        moto_s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    return moto_s3


@pytest.fixture
def context() -> SimpleNamespace:
    return SimpleNamespace(
        aws_request_id="6f1c7a43-8f3e-4a49-9b0c-3f4d2a1e5b6c",
        function_name="clickstream-lambda-ingest",
        function_version="$LATEST",
        memory_limit_in_mb=256,
    )


@pytest.fixture
def make_event() -> Any:
    """``make_event(body, raw=..., **top_level_overrides)`` -> a payload 2.0 event."""
    return build_event


@pytest.fixture
def invoke(ingest: Any, s3: Any, context: SimpleNamespace) -> Any:
    """``invoke(<build_event arguments>)`` or ``invoke(event=...)`` -> the handler's response."""

    def call(*args: Any, event: Any = _UNSET, **kwargs: Any) -> dict[str, Any]:
        return ingest.handler(build_event(*args, **kwargs) if event is _UNSET else event, context)

    return call


class RawBucket:
    """The raw bucket as the tests look at it."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def keys(self) -> list[str]:
        response = self.client.list_objects_v2(Bucket=BUCKET)
        return [item["Key"] for item in response.get("Contents", [])]

    def read(self, key: str) -> tuple[Any, str]:
        """(parsed JSON document, S3 ContentType) of one object."""
        obj = self.client.get_object(Bucket=BUCKET, Key=key)
        return json.loads(obj["Body"].read()), obj["ContentType"]


@pytest.fixture
def bucket(s3: Any) -> RawBucket:
    return RawBucket(s3)


@pytest.fixture
def sample_event() -> dict[str, Any]:
    return copy.deepcopy(VIEW_PRODUCT)
