"""Every client error: the right status, the exact message, CORS headers, and nothing written."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

GOOD = '{"eventName":"page_view"}'
CORS_ORIGIN = "*"

# (id, make_event keyword arguments, extra environment, status, message)
BAD_REQUESTS: list[tuple[str, dict[str, Any], dict[str, str], int, str]] = [
    ("no-body-key", {}, {}, 400, "Request body is required"),
    ("body-null", {"raw": None}, {}, 400, "Request body is required"),
    (
        "body-not-a-string",
        {"raw": {"eventName": "page_view"}},
        {},
        400,
        "Request body must be a string, got object",
    ),
    ("empty-body", {"raw": ""}, {}, 400, "Request body is empty"),
    ("whitespace-body", {"raw": " \r\n\t "}, {}, 400, "Request body is empty"),
    ("empty-after-base64", {"raw": "", "b64": True}, {}, 400, "Request body is empty"),
    (
        "truncated-json",
        {"raw": '{"eventName": "page_view"'},
        {},
        400,
        "Request body is not valid JSON: Expecting ',' delimiter at line 1 column 26",
    ),
    (
        "not-json",
        {"raw": "eventName=page_view"},
        {},
        400,
        "Request body is not valid JSON: Expecting value at line 1 column 1",
    ),
    (
        "trailing-garbage",
        {"raw": GOOD + "}"},
        {},
        400,
        "Request body is not valid JSON: Extra data at line 1 column 26",
    ),
    (
        "single-quotes",
        {"raw": "{'eventName': 'page_view'}"},
        {},
        400,
        "Request body is not valid JSON: Expecting property name enclosed in double quotes"
        " at line 1 column 2",
    ),
    (
        "nan-constant",
        {"raw": '{"eventName":"page_view","price":NaN}'},
        {},
        400,
        "Request body is not valid JSON: NaN is not a JSON value",
    ),
    (
        "infinity-constant",
        {"raw": '{"eventName":"page_view","price":-Infinity}'},
        {},
        400,
        "Request body is not valid JSON: -Infinity is not a JSON value",
    ),
    (
        "too-deeply-nested",
        {"raw": "[" * 50_000 + "]" * 50_000},
        {},
        400,
        "Request body is not valid JSON: nested too deeply",
    ),
    (
        "number-with-too-many-digits",
        {"raw": '{"eventName":"page_view","n":' + "9" * 5000 + "}"},
        {},
        400,
        "Request body is not valid JSON: a number has too many digits",
    ),
    (
        "unpaired-surrogate",
        {"raw": '{"eventName":"page_view","text":"\\ud800"}'},
        {},
        400,
        "Request body is not valid JSON text: it contains an unpaired UTF-16 surrogate",
    ),
    (
        "json-string",
        {"raw": '"page_view"'},
        {},
        400,
        "Request body must be a JSON object or an array of objects, got string",
    ),
    (
        "json-number",
        {"raw": "42"},
        {},
        400,
        "Request body must be a JSON object or an array of objects, got number",
    ),
    (
        "json-null",
        {"raw": "null"},
        {},
        400,
        "Request body must be a JSON object or an array of objects, got null",
    ),
    (
        "json-boolean",
        {"raw": "true"},
        {},
        400,
        "Request body must be a JSON object or an array of objects, got boolean",
    ),
    ("missing-eventName", {"body": {"userId": "u-1"}}, {}, 400, "eventName is required"),
    (
        "eventName-null",
        {"body": {"eventName": None}},
        {},
        400,
        "eventName must be a string, got null",
    ),
    (
        "eventName-number",
        {"body": {"eventName": 7}},
        {},
        400,
        "eventName must be a string, got number",
    ),
    (
        "eventName-array",
        {"body": {"eventName": ["page_view"]}},
        {},
        400,
        "eventName must be a string, got array",
    ),
    ("eventName-empty", {"body": {"eventName": ""}}, {}, 400, "eventName must not be empty"),
    ("eventName-blank", {"body": {"eventName": "   "}}, {}, 400, "eventName must not be empty"),
    (
        "eventName-bad-characters",
        {"body": {"eventName": "page view!"}},
        {},
        400,
        "eventName must be 1-64 characters: a letter, then letters, digits, '_', '.', ':' or '-'",
    ),
    (
        "eventName-too-long",
        {"body": {"eventName": "a" * 65}},
        {},
        400,
        "eventName must be 1-64 characters: a letter, then letters, digits, '_', '.', ':' or '-'",
    ),
    (
        "eventName-starts-with-digit",
        {"body": {"eventName": "1click"}},
        {},
        400,
        "eventName must be 1-64 characters: a letter, then letters, digits, '_', '.', ':' or '-'",
    ),
    (
        "eventName-not-in-allowlist",
        {"body": {"eventName": "purchase"}},
        {"ALLOWED_EVENT_NAMES": "page_view,click,product_view"},
        400,
        "eventName 'purchase' is not an accepted event name",
    ),
    (
        "client-sends-_ingest",
        {"body": {"eventName": "page_view", "_ingest": {"receivedAt": "2000-01-01T00:00:00Z"}}},
        {},
        400,
        "_ingest is reserved for server-side metadata",
    ),
    (
        "wrong-method",
        {"raw": GOOD, "routeKey": "GET /clickstream", "method": "GET"},
        {},
        400,
        "Unsupported method GET: only POST /clickstream is accepted",
    ),
    (
        "wrong-route",
        {"raw": GOOD, "routeKey": "POST /orders"},
        {},
        400,
        "Unsupported route POST /orders: only POST /clickstream is accepted",
    ),
    (
        "default-route-with-PUT",
        {"raw": GOOD, "routeKey": "$default", "method": "PUT"},
        {},
        400,
        "Unsupported method PUT: only POST /clickstream is accepted",
    ),
    (
        "no-route-no-method",
        {"raw": GOOD, "routeKey": None, "requestContext": {}},
        {},
        400,
        "Unsupported method (none): only POST /clickstream is accepted",
    ),
    (
        "oversized-body",
        {"raw": '{"eventName":"page_view","pad":"' + "x" * 40 + '"}'},
        {"MAX_BODY_BYTES": "64"},
        413,
        "Request body is too large: 74 bytes, the limit is 64 bytes",
    ),
    (
        "oversized-multibyte-body",
        # 20 characters of 3 bytes each: 62 characters, 92 bytes.
        {"raw": '{"eventName":"page_view","t":"' + "\u1ebf" * 20 + '"}'},
        {"MAX_BODY_BYTES": "64"},
        413,
        "Request body is too large: 92 bytes, the limit is 64 bytes",
    ),
    (
        "oversized-base64-body",
        {"raw": '{"eventName":"page_view","pad":"' + "x" * 40 + '"}', "b64": True},
        {"MAX_BODY_BYTES": "64"},
        413,
        "Request body is too large: 74 bytes, the limit is 64 bytes",
    ),
    (
        "bad-base64",
        {"raw": "eyJldmVudE5hbWUiOiJwYWdlX3ZpZXcifQ=!", "isBase64Encoded": True},
        {},
        400,
        "Request body is not valid base64",
    ),
    (
        "base64-of-non-utf8",
        {"raw": base64.b64encode(b'{"eventName":"\xff\xfe"}').decode(), "isBase64Encoded": True},
        {},
        400,
        "Request body is not valid UTF-8 (byte 14)",
    ),
    ("empty-batch", {"raw": "[]"}, {}, 400, "Batch is empty: send at least one event"),
    (
        "batch-with-one-bad-element",
        {"body": [{"eventName": "page_view"}, {"userId": "u-1"}, {"eventName": "click"}]},
        {},
        400,
        "events[1]: eventName is required",
    ),
    (
        "batch-with-non-object",
        {"body": [{"eventName": "page_view"}, "click"]},
        {},
        400,
        "events[1] must be a JSON object, got string",
    ),
    (
        "batch-of-batches",
        {"body": [[{"eventName": "page_view"}]]},
        {},
        400,
        "events[0] must be a JSON object, got array",
    ),
    (
        "batch-element-not-allowed",
        {"body": [{"eventName": "page_view"}, {"eventName": "purchase"}]},
        {"ALLOWED_EVENT_NAMES": "page_view"},
        400,
        "events[1]: eventName 'purchase' is not an accepted event name",
    ),
    (
        "batch-element-with-_ingest",
        {"body": [{"eventName": "page_view", "_ingest": {}}]},
        {},
        400,
        "events[0]: _ingest is reserved for server-side metadata",
    ),
    (
        "batch-too-many-events",
        {"body": [{"eventName": "page_view"}] * 4},
        {"MAX_BATCH_EVENTS": "3"},
        413,
        "Batch has 4 events, the limit is 3",
    ),
]


@pytest.mark.parametrize(
    ("event_kwargs", "env", "status", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_REQUESTS],
)
def test_bad_request_is_rejected_and_nothing_is_written(
    monkeypatch: pytest.MonkeyPatch,
    event_kwargs: dict[str, Any],
    env: dict[str, str],
    status: int,
    message: str,
    invoke: Any,
    bucket: Any,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    response = invoke(**event_kwargs)

    assert response["statusCode"] == status
    assert json.loads(response["body"]) == {"success": False, "message": message}
    assert response["headers"]["Access-Control-Allow-Origin"] == CORS_ORIGIN
    assert response["headers"]["Content-Type"] == "application/json"
    assert bucket.keys() == []


def test_the_bad_request_table_is_large_and_distinct() -> None:
    ids = [case[0] for case in BAD_REQUESTS]
    assert len(ids) == len(set(ids))
    assert len(BAD_REQUESTS) >= 25


@pytest.mark.parametrize("event", ["a string", ["a", "list"], None, 42])
def test_an_event_that_is_not_an_http_api_request_is_rejected(
    event: Any, invoke: Any, bucket: Any
) -> None:
    response = invoke(event=event)

    assert response["statusCode"] == 400
    assert json.loads(response["body"]) == {
        "success": False,
        "message": "Unsupported event: expected an API Gateway HTTP API (payload 2.0) request",
    }
    assert bucket.keys() == []
