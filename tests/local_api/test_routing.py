"""Route matching and reply mapping, called in process."""

from __future__ import annotations

from typing import Any

import pytest

from clickstream_lab import local_api


@pytest.fixture(scope="module")
def server() -> Any:
    return local_api


@pytest.mark.parametrize(
    ("method", "path", "stage", "catch_all", "expected"),
    [
        ("POST", "/clickstream", "$default", False, "POST /clickstream"),
        ("GET", "/clickstream", "$default", False, None),
        ("POST", "/clickstream/", "$default", False, None),
        ("POST", "/Clickstream", "$default", False, None),
        ("GET", "/clickstream", "$default", True, "$default"),
        ("POST", "/dev/clickstream", "dev", False, "POST /clickstream"),
        ("POST", "/clickstream", "dev", False, None),
        ("POST", "/development/clickstream", "dev", True, None),
        ("GET", "/dev/other", "dev", True, "$default"),
    ],
)
def test_route_matching(
    server: Any, method: str, path: str, stage: str, catch_all: bool, expected: str | None
) -> None:
    settings = server.ApiSettings(stage=stage, catch_all=catch_all)

    assert server.route_key_for(method, path, settings) == expected


def test_any_method_route(server: Any) -> None:
    settings = server.ApiSettings(routes=frozenset({"ANY /clickstream"}))

    assert server.route_key_for("PUT", "/clickstream", settings) == "ANY /clickstream"


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": True},
        {"statusCode": 700},
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": 200, "headers": ["x"]},
        {"statusCode": 200, "cookies": "a=1"},
    ],
)
def test_malformed_replies_are_refused(server: Any, result: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="malformed Lambda proxy response"):
        server.to_reply(result, "rid")


def test_reply_without_content_type_defaults_to_json(server: Any) -> None:
    reply = server.to_reply({"statusCode": 202, "body": "{}"}, "rid")

    assert reply.status == 202
    assert ("Content-Type", "application/json") in reply.headers
    assert ("apigw-requestid", "rid") in reply.headers
    assert reply.body == b"{}"
