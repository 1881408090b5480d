"""Configuration, S3 failures, logging and the S3 client: what operators rely on."""

from __future__ import annotations

import json
from typing import Any

import pytest

SECRET_VALUES = ("alice@example.com", "https://shop.example/secret-page", "4111111111111111")


def log_lines(captured: str) -> list[dict[str, Any]]:
    """Every stdout line must be one JSON object."""
    return [json.loads(line) for line in captured.splitlines() if line.strip()]


def test_missing_bucket_name_fails_the_invocation(
    ingest: Any, monkeypatch: pytest.MonkeyPatch, invoke: Any, bucket: Any
) -> None:
    monkeypatch.delenv("RAW_BUCKET_NAME")

    with pytest.raises(ingest.ConfigurationError, match="RAW_BUCKET_NAME is not set"):
        invoke({"eventName": "page_view"})
    # Before any validation, as the seed says: a bad request fails the same way.
    with pytest.raises(ingest.ConfigurationError, match="RAW_BUCKET_NAME is not set"):
        invoke(raw="not json")
    assert bucket.keys() == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("RAW_BUCKET_NAME", "  ", "RAW_BUCKET_NAME is not set"),
        ("MAX_BODY_BYTES", "64k", "MAX_BODY_BYTES must be a positive integer, got '64k'"),
        ("MAX_BODY_BYTES", "0", "MAX_BODY_BYTES must be a positive integer, got '0'"),
        ("MAX_BATCH_EVENTS", "-1", "MAX_BATCH_EVENTS must be a positive integer, got '-1'"),
        ("ALLOWED_EVENT_NAMES", "page_view,bad name", "can never match .*: bad name"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR"),
    ],
)
def test_bad_configuration_fails_loudly(
    ingest: Any,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    value: str,
    message: str,
    invoke: Any,
    bucket: Any,
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ingest.ConfigurationError, match=message):
        invoke({"eventName": "page_view"})
    assert bucket.keys() == []


def test_s3_failure_returns_500_and_logs_the_request_id(
    context: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], invoke: Any
) -> None:
    monkeypatch.setenv("RAW_BUCKET_NAME", "no-such-bucket")

    response = invoke({"eventName": "page_view"})

    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"success": False, "message": "Internal error"}
    assert response["headers"]["Access-Control-Allow-Origin"] == "*"
    (line,) = [r for r in log_lines(capsys.readouterr().out) if r["level"] == "ERROR"]
    assert line["message"] == "write to S3 failed"
    assert line["requestId"] == context.aws_request_id
    assert line["apiRequestId"] == "JKJaXmPLvHcESHA="
    assert line["bucket"] == "no-such-bucket"
    assert line["key"].startswith("events/")
    assert line["errorCode"] == "NoSuchBucket"
    assert line["InternalErrors"] == 1


def test_unreachable_s3_returns_500(
    ingest: Any,
    aws_env: None,
    make_event: Any,
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Nothing listens on port 9 (discard) on this host: the connection is refused.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setattr(ingest, "_s3_client", None)

    response = ingest.handler(make_event({"eventName": "page_view"}), context)

    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"success": False, "message": "Internal error"}
    (line,) = [r for r in log_lines(capsys.readouterr().out) if r["level"] == "ERROR"]
    assert line["errorType"] == "EndpointConnectionError"
    assert line["requestId"] == context.aws_request_id


def test_client_honours_aws_endpoint_url(
    ingest: Any, aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    monkeypatch.setattr(ingest, "_s3_client", None)

    client = ingest._s3()

    assert client.meta.endpoint_url == "http://127.0.0.1:4566"
    assert ingest._s3() is client  # one client per execution environment


def test_logs_are_json_with_ids_and_never_the_payload(
    context: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    invoke: Any,
    bucket: Any,
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    payload = {
        "eventName": "checkout_complete",
        "userId": "u-123",
        "email": SECRET_VALUES[0],
        "pageUrl": SECRET_VALUES[1],
        "card": SECRET_VALUES[2],
    }

    invoke(payload)
    invoke([payload, {**payload, "userId": "u-456"}])
    invoke({**payload, "eventName": ""})

    out = capsys.readouterr().out
    for secret in SECRET_VALUES:
        assert secret not in out
    lines = log_lines(out)
    assert all(line["requestId"] == context.aws_request_id for line in lines)
    assert all(line["apiRequestId"] == "JKJaXmPLvHcESHA=" for line in lines)
    debug = [(r["eventName"], r["userId"]) for r in lines if r["message"] == "event received"]
    assert debug == [
        ("checkout_complete", "u-123"),
        ("checkout_complete", "u-123"),
        ("checkout_complete", "u-456"),
    ]
    stored = [r for r in lines if r["message"] == "events stored"]
    assert [r["EventsStored"] for r in stored] == [1, 2]
    assert sorted(r["key"] for r in stored) == sorted(bucket.keys())
    (rejected,) = [r for r in lines if r["message"] == "request rejected"]
    assert rejected["reason"] == "eventName must not be empty"
    assert rejected["status"] == 400


def test_default_log_level_hides_debug_lines(
    capsys: pytest.CaptureFixture[str], invoke: Any
) -> None:
    invoke({"eventName": "page_view", "userId": "u-1"})

    messages = [line["message"] for line in log_lines(capsys.readouterr().out)]
    assert messages == ["events stored"]


def test_log_line_carries_an_embedded_metric(
    capsys: pytest.CaptureFixture[str], invoke: Any
) -> None:
    invoke([{"eventName": "click"}] * 2)

    (line,) = log_lines(capsys.readouterr().out)
    directive = line["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Clickstream/Ingest"
    assert directive["Metrics"] == [{"Name": "EventsStored", "Unit": "Count"}]
    # Every dimension and metric the directive names must be a field of the line.
    assert all(name in line for names in directive["Dimensions"] for name in names)
    assert line["EventsStored"] == 2


def test_long_or_structured_user_ids_are_cut_in_logs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], invoke: Any
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    batch = [
        {"eventName": "click", "userId": "u" * 1000},
        {"eventName": "click", "userId": {"email": SECRET_VALUES[0]}},
        {"eventName": "click", "userId": 42},
    ]

    invoke(batch)

    out = capsys.readouterr().out
    assert SECRET_VALUES[0] not in out
    user_ids = [r["userId"] for r in log_lines(out) if r["message"] == "event received"]
    assert user_ids == ["u" * 128, "<object>", 42]


def test_unexpected_error_returns_500_with_a_stack_in_the_log(
    ingest: Any,
    invoke: Any,
    bucket: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(*_args: Any) -> str:
        raise RuntimeError("a bug in the handler")

    monkeypatch.setattr(ingest, "object_key", broken)

    response = invoke({"eventName": "page_view"})

    assert response["statusCode"] == 500
    assert json.loads(response["body"]) == {"success": False, "message": "Internal error"}
    (line,) = [r for r in log_lines(capsys.readouterr().out) if r["level"] == "ERROR"]
    assert line["message"] == "unexpected error"
    assert line["error"] == "a bug in the handler"
    assert "Traceback" in line["stack"]
    assert bucket.keys() == []


def test_malformed_request_metadata_is_tolerated(invoke: Any, bucket: Any) -> None:
    # A direct invoke may put anything in requestContext or headers.
    response = invoke(
        {"eventName": "page_view"}, requestContext={"http": "POST"}, headers=["x-amzn-trace-id"]
    )

    assert response["statusCode"] == 200
    (key,) = bucket.keys()
    document, _ = bucket.read(key)
    assert document["_ingest"]["traceId"] is None
    assert document["_ingest"]["method"] is None
