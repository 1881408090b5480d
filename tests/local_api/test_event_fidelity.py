"""What the endpoint sends the handler (payload 2.0) and how it maps the reply to HTTP."""

from __future__ import annotations

import base64
import re
import signal
import threading
import time
from pathlib import Path
from typing import Any

import requests

from local_endpoint import RunningEndpoint, run_endpoint


def echo(endpoint: RunningEndpoint, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    response = requests.request(method, f"{endpoint.url}{path}", timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def test_event_is_a_faithful_payload_2_event(probe_endpoint: RunningEndpoint) -> None:
    port = int(probe_endpoint.url.rsplit(":", 1)[1])
    before_ms = int(time.time() * 1000)

    reply = requests.post(
        f"{probe_endpoint.url}/clickstream?utm_source=mail&tag=a&tag=b&empty=",
        json={"eventName": "page_view"},
        headers={
            "User-Agent": "fidelity/2.0",
            "Cookie": "session=abc; theme=dark",
            "X-Custom": "one",
            "X-Amzn-Trace-Id": "Root=1-00000000-000000000000000000000001",
        },
        timeout=30,
    )
    body = reply.json()
    event, context = body["event"], body["context"]

    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /clickstream"
    assert event["rawPath"] == "/clickstream"
    assert event["rawQueryString"] == "utm_source=mail&tag=a&tag=b&empty="
    assert event["queryStringParameters"] == {"utm_source": "mail", "tag": "a,b", "empty": ""}
    assert event["cookies"] == ["session=abc", "theme=dark"]
    headers = event["headers"]
    assert all(name == name.lower() for name in headers)
    assert "cookie" not in headers
    assert "connection" not in headers
    assert headers["x-custom"] == "one"
    assert headers["user-agent"] == "fidelity/2.0"
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(b'{"eventName": "page_view"}'))
    assert headers["x-amzn-trace-id"] == "Root=1-00000000-000000000000000000000001"
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-port"] == str(port)
    assert headers["x-forwarded-proto"] == "http"
    assert event["body"] == '{"eventName": "page_view"}'
    assert event["isBase64Encoded"] is False

    rc = event["requestContext"]
    assert set(rc) == {
        "accountId",
        "apiId",
        "domainName",
        "domainPrefix",
        "http",
        "requestId",
        "routeKey",
        "stage",
        "time",
        "timeEpoch",
    }
    assert rc["accountId"] == "123456789012"
    assert rc["apiId"] == "localapi01"
    assert rc["domainName"] == "127.0.0.1"
    assert rc["http"] == {
        "method": "POST",
        "path": "/clickstream",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "fidelity/2.0",
    }
    assert rc["requestId"] == reply.headers["apigw-requestid"]
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", rc["requestId"])
    assert rc["routeKey"] == "POST /clickstream"
    assert rc["stage"] == "$default"
    assert before_ms <= rc["timeEpoch"] <= int(time.time() * 1000)
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", rc["time"])

    assert re.fullmatch(r"[0-9a-f-]{36}", context["aws_request_id"])
    assert context["function_name"] == "clickstream-lambda-ingest"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"] == (
        "arn:aws:lambda:ap-southeast-1:123456789012:function:clickstream-lambda-ingest"
    )
    assert context["memory_limit_in_mb"] == 256
    assert context["log_group_name"] == "/aws/lambda/clickstream-lambda-ingest"
    assert 0 < context["remaining_ms"] <= 30_000


def test_binary_and_missing_content_types_are_base64_encoded(
    probe_endpoint: RunningEndpoint,
) -> None:
    raw = b"\x00\x01\xffbinary"
    cases = [
        ({"Content-Type": "application/octet-stream"}, raw, True),
        ({}, b'{"eventName":"x"}', True),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"a=1", True),
        ({"Content-Type": "text/plain;charset=UTF-8"}, b'{"eventName":"x"}', False),
        ({"Content-Type": "application/json; charset=utf-8"}, b"{}", False),
    ]
    for headers, data, encoded in cases:
        event = echo(probe_endpoint, "POST", "/clickstream", data=data, headers=headers)["event"]
        assert event["isBase64Encoded"] is encoded, headers
        sent = base64.b64decode(event["body"]) if encoded else event["body"].encode()
        assert sent == data, headers


def test_request_without_body_has_no_body_key(probe_endpoint: RunningEndpoint) -> None:
    event = echo(probe_endpoint, "POST", "/clickstream")["event"]

    assert "body" not in event
    assert event["isBase64Encoded"] is False
    assert "queryStringParameters" not in event
    assert "cookies" not in event


def test_chunked_request_body_is_reassembled(probe_endpoint: RunningEndpoint) -> None:
    chunks = [b'{"eventName":', b'"page_view",', b'"n":1}']

    event = echo(
        probe_endpoint,
        "POST",
        "/clickstream",
        data=iter(chunks),
        headers={"Content-Type": "application/json"},
    )["event"]

    assert event["body"] == b"".join(chunks).decode()
    assert event["headers"]["content-length"] == str(len(b"".join(chunks)))
    assert "transfer-encoding" not in event["headers"]


def test_catch_all_route_is_default(probe_endpoint: RunningEndpoint) -> None:
    event = echo(probe_endpoint, "GET", "/somewhere/else?x=1")["event"]

    assert event["routeKey"] == "$default"
    assert event["requestContext"]["routeKey"] == "$default"
    assert event["rawPath"] == "/somewhere/else"
    assert event["requestContext"]["http"]["method"] == "GET"


def test_handler_errors_and_malformed_replies_are_500(probe_endpoint: RunningEndpoint) -> None:
    for path in ("/raise", "/malformed"):
        response = requests.post(f"{probe_endpoint.url}{path}", timeout=30)
        assert response.status_code == 500, path
        assert response.json() == {"message": "Internal Server Error"}
    errors = [r for r in probe_endpoint.log_records() if r.get("errorType") == "ValueError"]
    assert errors[-1]["errorMessage"] == "the probe handler failed on purpose"


def test_reply_mapping(probe_endpoint: RunningEndpoint) -> None:
    plain = requests.post(f"{probe_endpoint.url}/no-status", timeout=30)
    binary = requests.post(f"{probe_endpoint.url}/binary-reply", timeout=30)

    assert plain.status_code == 200
    assert plain.headers["Content-Type"] == "application/json"
    assert plain.json() == {"ok": True, "items": [1, 2]}
    assert binary.status_code == 201
    assert binary.headers["Content-Type"] == "image/png"
    assert binary.content == base64.b64decode("iVBORw0KGgo=")
    assert binary.cookies.get("a") == "1"
    assert binary.cookies.get("b") == "2"


def test_cors_preflight_is_answered_by_the_api(probe_endpoint: RunningEndpoint) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}

    allowed = requests.options(
        f"{probe_endpoint.url}/clickstream",
        headers={**preflight, "Origin": "https://shop.example"},
        timeout=30,
    )
    refused = requests.options(
        f"{probe_endpoint.url}/clickstream",
        headers={**preflight, "Origin": "https://evil.example"},
        timeout=30,
    )

    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert refused.status_code == 204
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_oversized_request_is_413(probe_endpoint: RunningEndpoint) -> None:
    response = requests.post(
        f"{probe_endpoint.url}/clickstream", data=b"x" * (10 * 1024 * 1024 + 1), timeout=30
    )

    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}


def test_sigterm_lets_the_in_flight_request_finish(
    probe_dir: Path, function_env: dict[str, str], tmp_path: Path
) -> None:
    with run_endpoint(
        probe_dir, tmp_path, function_env, "--handler", "probe.handler", "--catch-all"
    ) as endpoint:
        result: dict[str, Any] = {}
        marker = tmp_path / "in-flight"

        def slow_request() -> None:
            result["response"] = requests.post(
                f"{endpoint.url}/slow", params={"marker": str(marker)}, timeout=30
            )

        worker = threading.Thread(target=slow_request)
        worker.start()
        while not marker.exists() and worker.is_alive():
            time.sleep(0.02)
        endpoint.process.send_signal(signal.SIGTERM)  # while the handler sleeps 1.5 s
        worker.join(timeout=30)
        code = endpoint.process.wait(timeout=30)
        records = endpoint.log_records()

    assert code == 0
    assert result["response"].status_code == 200
    assert result["response"].json()["event"]["rawPath"] == "/slow"
    assert [r["message"] for r in records if r.get("message") in ("stopping", "stopped")] == [
        "stopping",
        "stopped",
    ]
    assert records[-1]["drained"] is True
