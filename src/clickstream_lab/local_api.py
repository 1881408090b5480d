"""Local stand-in for the API Gateway HTTP API in front of the ingest Lambda.

    PYTHONPATH=build/ingest python -m clickstream_lab.local_api --port 8080

The handler is imported by name (``--handler``, default
``clickstream_ingest.handler.handler``) from the import path. As Lambda puts
the unpacked zip in ``/var/task`` first on its path, put the unpacked package
first on ``PYTHONPATH``: the zip's code is then the code served, shared
library included.

Each real HTTP request becomes an API Gateway HTTP API payload format 2.0 event
(``version``, ``routeKey``, ``rawPath``, ``rawQueryString``, ``cookies``,
lower-cased ``headers``, ``queryStringParameters``, ``requestContext`` with
``accountId``, ``apiId``, ``domainName``, ``domainPrefix``, ``http``,
``requestId``, ``routeKey``, ``stage``, ``time``, ``timeEpoch``, then ``body``
and ``isBase64Encoded``); the handler is called in process with a Lambda-like
context object and its payload 2.0 response is written back, as API Gateway
does:

* routes are matched exactly (``POST /clickstream`` by default); anything else
  is ``404 {"message":"Not Found"}`` unless ``--catch-all`` adds a ``$default``
  route, which forwards every other request with ``routeKey`` ``$default``;
* bodies are passed as text for ``text/*``, ``application/json``,
  ``application/xml`` and ``application/javascript``, and base64-encoded
  (``isBase64Encoded: true``) for every other content type or none at all;
* a CORS preflight (``OPTIONS`` with ``Origin`` and
  ``Access-Control-Request-Method``) is answered by the "API" itself (204);
* a handler that raises or returns a malformed response gives
  ``500 {"message":"Internal Server Error"}``; a body over 10 MB gives 413;
* the response carries an ``apigw-requestid`` header.

The process environment (``RAW_BUCKET_NAME``, ``AWS_ENDPOINT_URL``, credentials,
region...) is the function's environment.  One JSON access-log line per request
goes to stderr; the handler's own logs go to stdout.  SIGTERM or SIGINT stops
accepting connections, lets in-flight requests finish, and exits 0.

Standard library only, so it runs with any Python 3.11 that has the handler's
dependencies (boto3) importable.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import os
import secrets
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlsplit

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API request payload limit
TEXT_CONTENT_TYPES = ("application/json", "application/xml", "application/javascript")
HOP_BY_HOP = frozenset(
    ("connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection")
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ApiSettings(NamedTuple):
    """What the HTTP API and the function would be configured with."""

    routes: frozenset[str] = frozenset({"POST /clickstream"})
    catch_all: bool = False
    account_id: str = "123456789012"
    api_id: str = "localapi01"
    stage: str = "$default"
    region: str = "us-east-1"
    function_name: str = "clickstream-lambda-ingest"
    memory_mb: int = 256
    timeout_s: int = 30
    cors_allow_origins: tuple[str, ...] = ("*",)


class LambdaContext:
    """The attributes and method of the Python runtime's context object."""

    def __init__(self, settings: ApiSettings) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = settings.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:{settings.region}:{settings.account_id}:function:"
            f"{settings.function_name}"
        )
        self.memory_limit_in_mb = settings.memory_mb
        self.log_group_name = f"/aws/lambda/{settings.function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + settings.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class HttpReply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


# --------------------------------------------------------------------------- request -> event


def api_request_id() -> str:
    """An id shaped like API Gateway's (16 base64 characters)."""
    return base64.b64encode(secrets.token_bytes(11)).decode()


def trace_id(epoch: float) -> str:
    return f"Root=1-{int(epoch):08x}-{secrets.token_hex(12)}"


def api_time(moment: datetime) -> str:
    """``requestContext.time``: ``24/Nov/2025:05:50:00 +0000`` (no locale involved)."""
    return f"{moment:%d}/{MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media in TEXT_CONTENT_TYPES


def route_key_for(method: str, path: str, settings: ApiSettings) -> str | None:
    """The matching route's key, ``$default`` for the catch-all, or None (404).

    A stage other than ``$default`` is the first path segment (``/dev/clickstream``)
    and is not part of the route; the event's ``rawPath`` keeps it.
    """
    if settings.stage != "$default":
        prefix = f"/{settings.stage}"
        if path != prefix and not path.startswith(prefix + "/"):
            return None
        path = path[len(prefix) :] or "/"
    for key in (f"{method} {path}", f"ANY {path}"):
        if key in settings.routes:
            return key
    return "$default" if settings.catch_all else None


def build_event(
    *,
    method: str,
    target: str,
    headers: Iterable[tuple[str, str]],
    body: bytes | None,
    source_ip: str,
    route_key: str,
    settings: ApiSettings,
    request_id: str,
    now: datetime,
    server_port: int,
) -> dict[str, Any]:
    """Turn one HTTP request into the payload 2.0 event API Gateway would send."""
    split = urlsplit(target)
    raw_path = split.path or "/"
    raw_query = split.query

    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        lname = name.lower()
        if lname in HOP_BY_HOP:
            continue
        if lname == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        merged[lname] = f"{merged[lname]},{value}" if lname in merged else value
    epoch = now.timestamp()
    merged.setdefault("x-amzn-trace-id", trace_id(epoch))
    merged["x-forwarded-for"] = (
        f"{merged['x-forwarded-for']}, {source_ip}" if "x-forwarded-for" in merged else source_ip
    )
    merged.setdefault("x-forwarded-port", str(server_port))
    merged.setdefault("x-forwarded-proto", "http")
    if body:
        merged["content-length"] = str(len(body))

    host = merged.get("host", f"{settings.api_id}.execute-api.{settings.region}.amazonaws.com")
    domain = host.rsplit(":", 1)[0] if not host.endswith("]") else host

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = merged
    if raw_query:
        params: dict[str, str] = {}
        for name, value in parse_qsl(raw_query, keep_blank_values=True):
            params[name] = f"{params[name]},{value}" if name in params else value
        event["queryStringParameters"] = params
    event["requestContext"] = {
        "accountId": settings.account_id,
        "apiId": settings.api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": merged.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": settings.stage,
        "time": api_time(now),
        "timeEpoch": int(epoch * 1000),
    }
    if body:
        if is_text(merged.get("content-type")):
            event["body"] = body.decode("utf-8", "replace")
            event["isBase64Encoded"] = False
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


# --------------------------------------------------------------------------- result -> response


def json_reply(status: int, payload: Any, request_id: str) -> HttpReply:
    return HttpReply(
        status,
        [("Content-Type", "application/json"), ("apigw-requestid", request_id)],
        json.dumps(payload, separators=(",", ":")).encode(),
    )


def to_reply(result: Any, request_id: str) -> HttpReply:
    """Map a payload 2.0 Lambda response to HTTP as API Gateway does."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: API Gateway assumes 200, JSON, and the result as the body.
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpReply(
            200,
            [("Content-Type", "application/json"), ("apigw-requestid", request_id)],
            body.encode(),
        )
    status = result["statusCode"]
    headers = result.get("headers") or {}
    body = result.get("body") or ""
    cookies = result.get("cookies") or []
    if (
        not isinstance(status, int)
        or isinstance(status, bool)
        or not 100 <= status <= 599
        or not isinstance(headers, dict)
        or not isinstance(body, str)
        or not isinstance(cookies, list)
    ):
        raise TypeError(f"malformed Lambda proxy response: {sorted(result)}")
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    pairs = [(str(name), str(value)) for name, value in headers.items()]
    pairs += [("Set-Cookie", str(cookie)) for cookie in cookies]
    if not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.append(("Content-Type", "application/json"))
    pairs.append(("apigw-requestid", request_id))
    return HttpReply(status, pairs, data)


def preflight_reply(headers: dict[str, str], settings: ApiSettings, request_id: str) -> HttpReply:
    """The HTTP API's own answer to a CORS preflight when CORS is configured."""
    origin = headers["origin"]
    allowed = settings.cors_allow_origins
    pairs = [("apigw-requestid", request_id)]
    if "*" in allowed or origin in allowed:
        pairs += [
            ("Access-Control-Allow-Origin", "*" if "*" in allowed else origin),
            ("Access-Control-Allow-Methods", "OPTIONS,POST"),
            ("Access-Control-Allow-Headers", headers.get("access-control-request-headers", "*")),
            ("Access-Control-Max-Age", "300"),
        ]
    return HttpReply(204, pairs, b"")


# --------------------------------------------------------------------------- server


def load_handler(handler_spec: str) -> Callable[[Any, Any], Any]:
    """Import ``module.function`` as the Lambda runtime would (PYTHONPATH is its /var/task)."""
    module_name, _, function_name = handler_spec.rpartition(".")
    if not module_name or not function_name:
        raise SystemExit(f"--handler must be MODULE.FUNCTION, got {handler_spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SystemExit(
            f"cannot import {module_name!r} (put the unpacked package on PYTHONPATH): {exc}"
        ) from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise SystemExit(f"{module.__file__} has no function {function_name!r}")
    return function


def log_line(**fields: Any) -> None:
    sys.stderr.write(json.dumps(fields, separators=(",", ":")) + "\n")
    sys.stderr.flush()


class LocalApiServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 overflows when a burst opens a dozen
    # connections at once: the kernel then drops or resets some of them.
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        function: Callable[[Any, Any], Any],
        settings: ApiSettings,
    ) -> None:
        super().__init__(address, RequestHandler)
        self.function = function
        self.settings = settings
        self._in_flight = 0
        self._idle = threading.Condition()

    def enter(self) -> None:
        with self._idle:
            self._in_flight += 1

    def leave(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection failed outside the handler (e.g. the client went away): one JSON line."""
        exc = sys.exception()
        log_line(
            level="ERROR",
            message="connection error",
            ip=client_address[0],
            errorType=type(exc).__name__,
            errorMessage=str(exc),
        )

    def drain(self, timeout: float) -> bool:
        """Wait for in-flight requests; True when none is left."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the body
    # waits for the client's delayed ACK, a 40 ms floor on every response.
    disable_nagle_algorithm = True
    server_version = "local-http-api"
    sys_version = ""
    server: LocalApiServer
    timeout = 30  # idle keep-alive connections are closed after this

    def _dispatch(self) -> None:
        self.server.enter()
        try:
            self._serve()
        finally:
            self.server.leave()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks, size = [], 0
            while True:
                length = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                size += length
                if size > MAX_PAYLOAD_BYTES:
                    return None
                chunks.append(self.rfile.read(length))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        if length > MAX_PAYLOAD_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        started = time.perf_counter()
        settings = self.server.settings
        request_id = api_request_id()
        method = self.command
        path = urlsplit(self.path).path or "/"
        lowered = {name.lower(): value for name, value in self.headers.items()}
        route_key: str | None = None
        integration_ms = None
        try:
            body = self._read_body()
        except ValueError:
            reply = json_reply(400, {"message": "Bad Request"}, request_id)
            self.close_connection = True
        else:
            if body is None:
                self.close_connection = True  # the rest of the body is left unread
                reply = json_reply(413, {"message": "Request Entity Too Large"}, request_id)
            elif (
                method == "OPTIONS"
                and "origin" in lowered
                and "access-control-request-method" in lowered
                and settings.cors_allow_origins
            ):
                reply = preflight_reply(lowered, settings, request_id)
            else:
                route_key = route_key_for(method, path, settings)
                if route_key is None:
                    reply = json_reply(404, {"message": "Not Found"}, request_id)
                else:
                    event = build_event(
                        method=method,
                        target=self.path,
                        headers=self.headers.items(),
                        body=body,
                        source_ip=self.client_address[0],
                        route_key=route_key,
                        settings=settings,
                        request_id=request_id,
                        now=datetime.now(UTC),
                        server_port=self.server.server_address[1],
                    )
                    invoke_started = time.perf_counter()
                    reply = self._invoke(event, request_id)
                    integration_ms = round((time.perf_counter() - invoke_started) * 1000, 3)
        self._send(reply, head_only=method == "HEAD")
        log_line(
            requestId=request_id,
            ip=self.client_address[0],
            requestTime=api_time(datetime.now(UTC)),
            httpMethod=method,
            path=path,
            routeKey=route_key,
            status=reply.status,
            protocol=self.request_version,
            responseLength=len(reply.body),
            integrationLatencyMs=integration_ms,
            latencyMs=round((time.perf_counter() - started) * 1000, 3),
        )

    def _invoke(self, event: dict[str, Any], request_id: str) -> HttpReply:
        context = LambdaContext(self.server.settings)
        try:
            return to_reply(self.server.function(event, context), request_id)
        except Exception as exc:
            # What the Lambda runtime reports for an unhandled error, then API Gateway's 500.
            log_line(
                requestId=context.aws_request_id,
                apiRequestId=request_id,
                errorType=type(exc).__name__,
                errorMessage=str(exc),
                stackTrace=traceback.format_exception(exc),
            )
            return json_reply(500, {"message": "Internal Server Error"}, request_id)

    def _send(self, reply: HttpReply, head_only: bool) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head_only:
            self.wfile.write(reply.body)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        """Replaced by the JSON access-log line written in ``_serve``."""

    def log_message(self, format: str, *args: Any) -> None:
        log_line(level="ERROR", message=format % args, ip=self.client_address[0])


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--handler",
        default="clickstream_ingest.handler.handler",
        help="MODULE.FUNCTION, imported from the import path (PYTHONPATH first)",
    )
    parser.add_argument(
        "--route",
        action="append",
        dest="routes",
        help='route key like "POST /clickstream" (repeatable; default POST /clickstream)',
    )
    parser.add_argument(
        "--catch-all", action="store_true", help="add a $default route for every other request"
    )
    parser.add_argument("--api-id", default="localapi01")
    parser.add_argument("--account-id", default="123456789012")
    parser.add_argument("--stage", default="$default")
    parser.add_argument("--region", default=None, help="default: AWS_REGION / AWS_DEFAULT_REGION")
    parser.add_argument("--function-name", default="clickstream-lambda-ingest")
    parser.add_argument("--memory-mb", type=int, default=256)
    parser.add_argument("--timeout-s", type=int, default=30)
    parser.add_argument(
        "--cors-allow-origin",
        action="append",
        dest="cors",
        help='origin allowed by CORS preflight (repeatable; default "*")',
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=10.0,
        help="on SIGTERM, how long to wait for in-flight requests",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    for route in args.routes or ():
        method, _, path = route.partition(" ")
        if not method.isupper() or not path.startswith("/"):
            raise SystemExit(f'--route must look like "POST /path", got {route!r}')
    region = (
        args.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
        or "us-east-1"
    )
    settings = ApiSettings(
        routes=frozenset(args.routes or ("POST /clickstream",)),
        catch_all=args.catch_all,
        account_id=args.account_id,
        api_id=args.api_id,
        stage=args.stage,
        region=region,
        function_name=args.function_name,
        memory_mb=args.memory_mb,
        timeout_s=args.timeout_s,
        cors_allow_origins=tuple(args.cors or ("*",)),
    )
    function = load_handler(args.handler)
    server = LocalApiServer((args.host, args.port), function, settings)
    host, port = server.server_address[:2]

    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            log_line(message="stopping", signal=signal.Signals(signum).name)
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log_line(
        message="listening",
        url=f"http://{host}:{port}",
        routes=sorted(settings.routes) + (["$default"] if settings.catch_all else []),
        handler=f"{function.__module__}.{function.__name__}",
        handlerFile=sys.modules[function.__module__].__file__,
    )
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        drained = server.drain(args.drain_seconds)
        server.server_close()
        log_line(message="stopped", drained=drained)
    return 0


if __name__ == "__main__":
    sys.exit(main())
