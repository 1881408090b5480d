"""Accepted requests: what lands in S3, under which key, and what the client gets back."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
EXPECTED_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "OPTIONS,POST",
    "Access-Control-Allow-Headers": "*",
}
FIXED_NOW = datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)


@pytest.fixture
def frozen_clock(ingest: Any, monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setattr(ingest, "_utcnow", lambda: FIXED_NOW)
    return FIXED_NOW


def expected_ingest(event: dict[str, Any], received_at: str) -> dict[str, Any]:
    http = event["requestContext"]["http"]
    return {
        "receivedAt": received_at,
        "sourceIp": http["sourceIp"],
        "userAgent": http["userAgent"],
        "method": "POST",
        "path": "/clickstream",
        "requestId": event["requestContext"]["requestId"],
        "apiId": event["requestContext"]["apiId"],
        "stage": "$default",
        "traceId": event["headers"]["x-amzn-trace-id"],
    }


def test_single_event_is_written_unchanged_with_ingest_block(
    make_event: Any, frozen_clock: datetime, sample_event: dict[str, Any], invoke: Any, bucket: Any
) -> None:
    event = make_event(sample_event)

    response = invoke(event=event)

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"success": True}
    for name, value in EXPECTED_CORS.items():
        assert response["headers"][name] == value
    (key,) = bucket.keys()
    assert re.fullmatch(rf"events/2025/12/31/23/event-{UUID}\.json", key)
    document, content_type = bucket.read(key)
    assert content_type == "application/json"
    ingest_block = document.pop("_ingest")
    assert document == sample_event
    assert list(document) == list(sample_event)  # key order kept as the client sent it
    assert ingest_block == expected_ingest(event, "2025-12-31T23:59:59.999Z")


def test_hour_partition_and_received_at_come_from_the_same_instant(
    invoke: Any, bucket: Any
) -> None:
    before = datetime.now(UTC)
    response = invoke({"eventName": "page_view"})
    after = datetime.now(UTC)

    assert response["statusCode"] == 200
    (key,) = bucket.keys()
    document, _ = bucket.read(key)
    received = datetime.fromisoformat(document["_ingest"]["receivedAt"])
    assert document["_ingest"]["receivedAt"].endswith("Z")
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= received <= after
    assert key.startswith(f"events/{received:%Y/%m/%d/%H}/event-")


def test_non_ascii_and_nested_values_round_trip_exactly(invoke: Any, bucket: Any) -> None:
    payload = {
        "eventName": "add_to_cart_click",
        "product": {"name": "Bàn phím cơ Tiếng Việt ✓", "price": 1_990_000, "tags": [1, 2.5]},
        "element": {"dataset": {"x": None, "y": True}},
        "big": 12345678901234567890,
    }

    assert invoke(payload)["statusCode"] == 200

    document, _ = bucket.read(bucket.keys()[0])
    del document["_ingest"]
    assert document == payload


def test_base64_encoded_body_is_decoded(invoke: Any, bucket: Any) -> None:
    # API Gateway base64-encodes bodies without a text content type (e.g. none at all).
    payload = {"eventName": "page_view", "pageUrl": "https://shop.example/ô"}

    response = invoke(payload, b64=True)

    assert response["statusCode"] == 200
    document, _ = bucket.read(bucket.keys()[0])
    del document["_ingest"]
    assert document == payload


def test_batch_is_written_as_one_object_in_request_order(
    make_event: Any, frozen_clock: datetime, invoke: Any, bucket: Any
) -> None:
    batch = [{"eventName": "page_view", "n": i, "userId": f"u-{i}"} for i in range(5)]
    event = make_event(batch)

    response = invoke(event=event)

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"success": True, "count": 5}
    (key,) = bucket.keys()
    assert re.fullmatch(rf"events/2025/12/31/23/batch-{UUID}\.json", key)
    document, content_type = bucket.read(key)
    assert content_type == "application/json"
    assert list(document) == ["events"]
    expected_block = expected_ingest(event, "2025-12-31T23:59:59.999Z")
    assert [item.pop("_ingest") for item in document["events"]] == [expected_block] * 5
    assert document["events"] == batch


def test_batch_of_one_is_still_a_batch(invoke: Any, bucket: Any) -> None:
    response = invoke([{"eventName": "click"}])

    assert json.loads(response["body"]) == {"success": True, "count": 1}
    assert "/batch-" in bucket.keys()[0]


def test_batch_at_the_limit_is_accepted(
    monkeypatch: pytest.MonkeyPatch, invoke: Any, bucket: Any
) -> None:
    monkeypatch.setenv("MAX_BATCH_EVENTS", "3")

    response = invoke([{"eventName": "click"}] * 3)

    assert json.loads(response["body"]) == {"success": True, "count": 3}
    assert len(bucket.keys()) == 1


@pytest.mark.parametrize("b64", [False, True], ids=["text", "base64"])
def test_body_of_exactly_the_limit_is_accepted(
    monkeypatch: pytest.MonkeyPatch, b64: bool, invoke: Any, bucket: Any
) -> None:
    raw = '{"eventName":"page_view","t":"' + "\u1ebf" * 10 + '"}'  # 62 bytes, 42 characters
    monkeypatch.setenv("MAX_BODY_BYTES", str(len(raw.encode())))

    response = invoke(raw=raw, b64=b64)

    assert response["statusCode"] == 200
    assert len(bucket.keys()) == 1


def test_default_body_limit_is_256_kib(invoke: Any, bucket: Any) -> None:
    head = '{"eventName":"page_view","pad":"'
    fits = head + "x" * (262_144 - len(head) - 2) + '"}'

    assert invoke(raw=fits)["statusCode"] == 200
    assert invoke(raw=fits + " ")["statusCode"] == 413
    assert len(bucket.keys()) == 1


@pytest.mark.parametrize(
    ("route_key", "http"),
    [
        ("POST /clickstream", {"method": "POST"}),
        ("$default", {"method": "POST", "path": "/clickstream"}),
        ("POST /clickstream", None),  # a direct invoke that names the route only
        (None, {"method": "POST"}),  # a direct invoke that names the method only
    ],
    ids=["route", "default-route-post", "route-without-http-block", "method-only"],
)
def test_accepted_routes(
    make_event: Any, route_key: str | None, http: dict[str, str] | None, invoke: Any, bucket: Any
) -> None:
    event = make_event({"eventName": "page_view"}, routeKey=route_key)
    if http is None:
        del event["requestContext"]["http"]
    else:
        event["requestContext"]["http"] = http

    assert invoke(event=event)["statusCode"] == 200
    assert len(bucket.keys()) == 1


def test_missing_request_metadata_is_recorded_as_null(
    make_event: Any, invoke: Any, bucket: Any
) -> None:
    event = make_event({"eventName": "page_view"}, headers={}, requestContext={})

    assert invoke(event=event)["statusCode"] == 200

    document, _ = bucket.read(bucket.keys()[0])
    block = document["_ingest"]
    assert block.pop("receivedAt")
    assert block == {
        "sourceIp": None,
        "userAgent": None,
        "method": None,
        "path": "/clickstream",  # from rawPath
        "requestId": None,
        "apiId": None,
        "stage": None,
        "traceId": None,
    }


def test_trace_header_is_found_whatever_its_case(make_event: Any, invoke: Any, bucket: Any) -> None:
    event = make_event({"eventName": "page_view"}, headers={"X-Amzn-Trace-Id": "Root=1-abc"})

    assert invoke(event=event)["statusCode"] == 200

    document, _ = bucket.read(bucket.keys()[0])
    assert document["_ingest"]["traceId"] == "Root=1-abc"


def test_allowlist_accepts_listed_names_from_the_seed_catalogue(
    monkeypatch: pytest.MonkeyPatch, invoke: Any, bucket: Any
) -> None:
    catalogue = (
        "page_view, click, home_view, category_view, product_view, add_to_cart_click,"
        " remove_from_cart_click, wishlist_toggle, share_click, login_open, login_success,"
        " logout, checkout_start, checkout_complete"
    )
    monkeypatch.setenv("ALLOWED_EVENT_NAMES", catalogue)
    names = [name.strip() for name in catalogue.split(",")]

    response = invoke([{"eventName": name} for name in names])
    refused = invoke({"eventName": "Page_View"})

    assert json.loads(response["body"]) == {"success": True, "count": 14}
    assert refused["statusCode"] == 400
    assert len(bucket.keys()) == 1


def test_without_allowlist_any_well_formed_name_is_accepted(invoke: Any, bucket: Any) -> None:
    names = ["a", "checkout.v2:step-1", "X" * 64, "custom_event_9"]

    for name in names:
        assert invoke({"eventName": name})["statusCode"] == 200
    assert len(bucket.keys()) == len(names)


def test_each_request_gets_its_own_object(frozen_clock: datetime, invoke: Any, bucket: Any) -> None:
    for _ in range(3):
        invoke({"eventName": "page_view"})

    keys = bucket.keys()
    assert len(set(keys)) == 3
    assert all(key.startswith("events/2025/12/31/23/event-") for key in keys)
