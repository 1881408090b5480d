"""Clickstream ingest Lambda: API Gateway HTTP API (payload 2.0) -> the raw bucket.

Sinks (``INGEST_SINK``): ``s3`` writes one object per request (below);
``firehose`` sends one newline-terminated JSON record per event (the object
below without the batch wrapper) to the delivery stream ``DELIVERY_STREAM_NAME``
in one PutRecordBatch, retrying only the records Firehose refused.

Entry point: ``handler(event, context)``.

Request
    ``POST /clickstream`` (or ``requestContext.http.method == "POST"`` on a
    ``$default`` route).  The body (plain or ``isBase64Encoded``) is UTF-8 JSON:

    * a JSON object with a non-empty string ``eventName`` -> one event;
    * a JSON array of such objects -> a batch, validated as a whole.

    ``eventName`` must match ``EVENT_NAME_PATTERN``; when ``ALLOWED_EVENT_NAMES``
    is set it must also be one of those names.  A client may not send its own
    ``_ingest`` key: that block is the server's and the ETL trusts it.

Objects written by the s3 sink (content type ``application/json``, UTC hour of receipt)
    single event ``events/YYYY/MM/DD/HH/event-<uuid>.json``::

        {<the client's object, unchanged>, "_ingest": {...}}

    batch ``events/YYYY/MM/DD/HH/batch-<uuid>.json`` (one PUT, never partial)::

        {"events": [{<object 0>, "_ingest": {...}}, {<object 1>, "_ingest": {...}}, ...]}

    ``events`` keeps the request's order; every element carries the same
    ``_ingest`` block.  Tell the two apart by the key's file name prefix
    (``event-`` / ``batch-``), never by the content: a client object may have a
    field called ``events``.

    ``_ingest`` = ``receivedAt`` (``YYYY-MM-DDTHH:MM:SS.mmmZ``, UTC, the same
    instant that chose the hour partition), ``sourceIp``, ``userAgent``,
    ``method``, ``path``, ``requestId``, ``apiId``, ``stage``, ``traceId``
    (header ``x-amzn-trace-id``).  A value the request did not carry is ``null``.

Responses (always JSON, always with permissive CORS headers)
    200 ``{"success": true}`` (a batch adds ``"count": n``);
    400 / 413 ``{"success": false, "message": "<precise reason>"}``, nothing written;
    500 ``{"success": false, "message": "Internal error"}`` when S3 (or anything
    unexpected) fails; the cause is logged with the request id.

Environment
    ``INGEST_SINK``          ``s3`` (default) or ``firehose``.
    ``RAW_BUCKET_NAME``      required by s3; missing -> the invocation raises
                             ``ConfigurationError``.
    ``DELIVERY_STREAM_NAME`` required by firehose, likewise.
    ``MAX_BODY_BYTES``       decoded body size limit in bytes (default 262144) -> 413.
    ``MAX_BATCH_EVENTS``     events per batch (default 100) -> 413.
    ``ALLOWED_EVENT_NAMES``  optional comma-separated allowlist of event names.
    ``LOG_LEVEL``            DEBUG | INFO | WARNING | ERROR (default INFO, or
                             ``AWS_LAMBDA_LOG_LEVEL`` when Lambda sets it).
    The S3 client is ``boto3.client("s3")``, created on first use, so
    ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3`` point it at the lab.

Logs are one JSON object per line on stdout with ``requestId`` (Lambda) and
``apiRequestId`` (API Gateway).  The payload is never logged: only
``eventName`` and ``userId`` (DEBUG), and sizes, keys and outcomes.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import random
import re
import time
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

import boto3

from clickstream_common.json_types import json_type
from clickstream_common.logs import JsonLogger, emf_record, parse_level

ROUTE_KEY = "POST /clickstream"
DEFAULT_MAX_BODY_BYTES = 256 * 1024
DEFAULT_MAX_BATCH_EVENTS = 100
EVENT_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,63}")
KEY_PREFIX = "events"
METRICS_NAMESPACE = "Clickstream/Ingest"
SERVICE = "clickstream-ingest"

# Where accepted events go (INGEST_SINK), and the variable that names the target.
SINKS = {"s3": "RAW_BUCKET_NAME", "firehose": "DELIVERY_STREAM_NAME"}

# Amazon Data Firehose PutRecordBatch limits, and how failed records are retried:
# up to FIREHOSE_ATTEMPTS calls, waiting FIREHOSE_BACKOFF_SECONDS * 2**n (full
# jitter) between them, about a second in all at the most.
FIREHOSE_MAX_RECORDS = 500
FIREHOSE_MAX_CALL_BYTES = 4 * 1024 * 1024
FIREHOSE_MAX_RECORD_BYTES = 1000 * 1024
FIREHOSE_ATTEMPTS = 4
FIREHOSE_BACKOFF_SECONDS = 0.05

RESPONSE_HEADERS = {
    "Content-Type": "application/json",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "OPTIONS,POST",
    "Access-Control-Allow-Headers": "*",
}

_SUCCESS_BODY = '{"success":true}'

# Built once: json.dumps/json.loads with non-default options build a new coder per call.
_OBJECT_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

# Created on first use (see _s3, _firehose); tests and the benchmark may replace them.
_s3_client: Any = None
_firehose_client: Any = None


class ConfigurationError(RuntimeError):
    """The function's environment is wrong: the invocation must fail, not answer."""


class RequestRejected(Exception):
    """A client error: answered with ``status`` and ``message``, nothing written."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DeliveryFailed(Exception):
    """Firehose refused some records on every attempt: the request is answered 500."""

    def __init__(self, failed: int, total: int, errors: dict[str, int], attempts: int) -> None:
        super().__init__(f"{failed} of {total} records not delivered after {attempts} attempts")
        self.failed = failed
        self.errors = errors
        self.attempts = attempts


class Settings(NamedTuple):
    sink: str  # "s3" or "firehose"
    target: str  # the raw bucket (s3) or the delivery stream (firehose)
    max_body_bytes: int
    max_batch_events: int
    allowed_event_names: frozenset[str] | None
    log_level: int


# --------------------------------------------------------------------------- settings


def load_settings(environ: Any = None) -> Settings:
    """Read the environment; raise ``ConfigurationError`` on any bad value."""
    env = os.environ if environ is None else environ
    return _parse_settings(
        env.get("INGEST_SINK"),
        env.get("RAW_BUCKET_NAME"),
        env.get("DELIVERY_STREAM_NAME"),
        env.get("MAX_BODY_BYTES"),
        env.get("MAX_BATCH_EVENTS"),
        env.get("ALLOWED_EVENT_NAMES"),
        env.get("LOG_LEVEL") or env.get("AWS_LAMBDA_LOG_LEVEL"),
    )


@lru_cache(maxsize=16)
def _parse_settings(
    sink: str | None,
    bucket: str | None,
    stream: str | None,
    max_body: str | None,
    max_batch: str | None,
    allowed: str | None,
    log_level: str | None,
) -> Settings:
    sink = (sink or "s3").strip().lower()
    if sink not in SINKS:
        raise ConfigurationError(f"INGEST_SINK must be one of {', '.join(SINKS)}, got {sink!r}")
    target_variable, target = SINKS[sink], bucket if sink == "s3" else stream
    if not target or not target.strip():
        raise ConfigurationError(
            f"{target_variable} is not set: the ingest function's {sink} sink needs it"
        )
    try:
        level = parse_level(log_level)
    except ValueError as exc:
        raise ConfigurationError(f"LOG_LEVEL {exc}") from None
    names = None
    if allowed is not None and allowed.strip():
        names = frozenset(name.strip() for name in allowed.split(",") if name.strip())
        bad = sorted(name for name in names if not EVENT_NAME_PATTERN.fullmatch(name))
        if bad:
            raise ConfigurationError(
                f"ALLOWED_EVENT_NAMES has names that can never match the event name "
                f"pattern {EVENT_NAME_PATTERN.pattern}: {', '.join(bad)}"
            )
    return Settings(
        sink=sink,
        target=target.strip(),
        max_body_bytes=_positive_int("MAX_BODY_BYTES", max_body, DEFAULT_MAX_BODY_BYTES),
        max_batch_events=_positive_int("MAX_BATCH_EVENTS", max_batch, DEFAULT_MAX_BATCH_EVENTS),
        allowed_event_names=names,
        log_level=level,
    )


def _positive_int(name: str, raw: str | None, default: int) -> int:
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a positive integer, got {raw!r}") from None
    if value < 1:
        raise ConfigurationError(f"{name} must be a positive integer, got {raw!r}")
    return value


# --------------------------------------------------------------------------- logging


def _metrics(**counts: int) -> dict[str, Any]:
    """EMF fields for a log line: counts in the ingest namespace, by service."""
    return emf_record(METRICS_NAMESPACE, counts, {"service": SERVICE})


def _loggable_user_id(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return value[:128]
    return f"<{json_type(value)}>"


# --------------------------------------------------------------------------- request parsing


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one (direct invokes can send anything)."""
    return value if isinstance(value, dict) else {}


def check_route(event: dict[str, Any]) -> None:
    """Accept ``POST /clickstream``, or a POST reaching the function through ``$default``."""
    route_key = event.get("routeKey")
    if route_key == ROUTE_KEY:
        return
    if route_key in (None, "$default"):
        method = _mapping(_mapping(event.get("requestContext")).get("http")).get("method")
        if method == "POST":
            return
    else:
        method, _, path = str(route_key).partition(" ")
        if path != "/clickstream":
            raise RequestRejected(
                400, f"Unsupported route {route_key}: only {ROUTE_KEY} is accepted"
            )
    raise RequestRejected(
        400, f"Unsupported method {method or '(none)'}: only {ROUTE_KEY} is accepted"
    )


def decode_body(event: dict[str, Any], max_bytes: int) -> str:
    """Return the request body as text, enforcing presence, encoding and size."""
    body = event.get("body")
    if body is None:
        raise RequestRejected(400, "Request body is required")
    if not isinstance(body, str):
        raise RequestRejected(400, f"Request body must be a string, got {json_type(body)}")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise RequestRejected(400, "Request body is not valid base64") from None
        _check_size(len(raw), max_bytes)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RequestRejected(
                400, f"Request body is not valid UTF-8 (byte {exc.start})"
            ) from None
    else:
        text = body
        # A UTF-8 character is 1-4 bytes: only encode when the limit could be reached.
        if len(text) * 4 > max_bytes:
            _check_size(len(text.encode("utf-8", "surrogatepass")), max_bytes)
    if not text.strip():
        raise RequestRejected(400, "Request body is empty")
    return text


def _check_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise RequestRejected(
            413, f"Request body is too large: {size} bytes, the limit is {max_bytes} bytes"
        )


def _reject_constant(name: str) -> Any:
    raise RequestRejected(400, f"Request body is not valid JSON: {name} is not a JSON value")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise RequestRejected(400, "Request body is not valid JSON: nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise RequestRejected(
            400,
            f"Request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
        ) from None
    except ValueError:
        # int() refuses numbers longer than sys.get_int_max_str_digits() (4300).
        raise RequestRejected(
            400, "Request body is not valid JSON: a number has too many digits"
        ) from None


def validate_event(obj: Any, settings: Settings, where: str = "") -> None:
    """Check one client event; ``where`` prefixes messages for batch elements."""
    prefix = f"{where}: " if where else ""
    if not isinstance(obj, dict):
        subject = where or "Request body"
        raise RequestRejected(
            400,
            f"{subject} must be a JSON object"
            + ("" if where else " or an array of objects")
            + f", got {json_type(obj)}",
        )
    if "_ingest" in obj:
        raise RequestRejected(400, f"{prefix}_ingest is reserved for server-side metadata")
    if "eventName" not in obj:
        raise RequestRejected(400, f"{prefix}eventName is required")
    name = obj["eventName"]
    if not isinstance(name, str):
        raise RequestRejected(400, f"{prefix}eventName must be a string, got {json_type(name)}")
    if not name.strip():
        raise RequestRejected(400, f"{prefix}eventName must not be empty")
    if not EVENT_NAME_PATTERN.fullmatch(name):
        raise RequestRejected(
            400,
            f"{prefix}eventName must be 1-64 characters: a letter, then letters, digits, "
            f"'_', '.', ':' or '-'",
        )
    allowed = settings.allowed_event_names
    if allowed is not None and name not in allowed:
        raise RequestRejected(400, f"{prefix}eventName {name!r} is not an accepted event name")


def parse_request(event: Any, settings: Settings) -> tuple[list[dict[str, Any]], bool]:
    """Validate the whole request; return (client events, is_batch) or raise."""
    if not isinstance(event, dict):
        raise RequestRejected(
            400, "Unsupported event: expected an API Gateway HTTP API (payload 2.0) request"
        )
    check_route(event)
    doc = parse_json(decode_body(event, settings.max_body_bytes))
    if isinstance(doc, list):
        if not doc:
            raise RequestRejected(400, "Batch is empty: send at least one event")
        if len(doc) > settings.max_batch_events:
            raise RequestRejected(
                413,
                f"Batch has {len(doc)} events, the limit is {settings.max_batch_events}",
            )
        for index, item in enumerate(doc):
            validate_event(item, settings, f"events[{index}]")
        return doc, True
    validate_event(doc, settings)
    return [doc], False


# --------------------------------------------------------------------------- objects


def ingest_metadata(event: dict[str, Any], received_at: datetime) -> dict[str, Any]:
    context = _mapping(event.get("requestContext"))
    http = _mapping(context.get("http"))
    headers = _mapping(event.get("headers"))
    return {
        "receivedAt": iso_utc(received_at),
        "sourceIp": http.get("sourceIp"),
        "userAgent": http.get("userAgent") or _header(headers, "user-agent"),
        "method": http.get("method"),
        "path": http.get("path") or event.get("rawPath"),
        "requestId": context.get("requestId"),
        "apiId": context.get("apiId"),
        "stage": context.get("stage"),
        "traceId": _header(headers, "x-amzn-trace-id"),
    }


def _header(headers: dict[str, Any], name: str) -> Any:
    """HTTP APIs lower-case header names; tolerate other spellings from direct invokes."""
    if name in headers:
        return headers[name]
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def iso_utc(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def object_key(received_at: datetime, is_batch: bool) -> str:
    t = received_at  # formatted by hand: strftime costs more than the rest of the key
    hour = f"{t.year:04d}/{t.month:02d}/{t.day:02d}/{t.hour:02d}"
    return f"{KEY_PREFIX}/{hour}/{'batch' if is_batch else 'event'}-{uuid.uuid4()}.json"


def object_body(events: list[dict[str, Any]], metadata: dict[str, Any], is_batch: bool) -> bytes:
    enriched = [{**item, "_ingest": metadata} for item in events]
    document = {"events": enriched} if is_batch else enriched[0]
    try:
        return _OBJECT_ENCODER.encode(document).encode("utf-8")
    except UnicodeEncodeError:
        raise RequestRejected(
            400, "Request body is not valid JSON text: it contains an unpaired UTF-16 surrogate"
        ) from None


def firehose_records(events: list[dict[str, Any]], metadata: dict[str, Any]) -> list[bytes]:
    """One newline-terminated JSON record per event: the client's object plus ``_ingest``."""
    records = []
    for index, item in enumerate(events):
        try:
            record = _OBJECT_ENCODER.encode({**item, "_ingest": metadata}).encode("utf-8")
        except UnicodeEncodeError:
            raise RequestRejected(
                400, "Request body is not valid JSON text: it contains an unpaired UTF-16 surrogate"
            ) from None
        if len(record) + 1 > FIREHOSE_MAX_RECORD_BYTES:
            where = f"events[{index}]" if len(events) > 1 else "The event"
            raise RequestRejected(
                413,
                f"{where} is {len(record) + 1} bytes with its metadata, more than the "
                f"{FIREHOSE_MAX_RECORD_BYTES} bytes a delivery stream record may hold",
            )
        records.append(record + b"\n")
    return records


def _calls(records: list[bytes], pending: list[int]) -> list[list[int]]:
    """``pending`` (record indexes) cut into PutRecordBatch calls within its limits."""
    calls: list[list[int]] = [[]]
    size = 0
    for index in pending:
        length = len(records[index])
        if calls[-1] and (
            len(calls[-1]) == FIREHOSE_MAX_RECORDS or size + length > FIREHOSE_MAX_CALL_BYTES
        ):
            calls.append([])
            size = 0
        calls[-1].append(index)
        size += length
    return calls


def put_records(client: Any, stream: str, records: list[bytes]) -> tuple[int, int]:
    """Deliver every record, retrying only those Firehose refused, with backoff.

    Returns (attempts, records retried); raises :class:`DeliveryFailed` when some
    are still refused after ``FIREHOSE_ATTEMPTS`` attempts.  A whole call that fails
    (throttling, a 5xx) is retried by botocore's own retry policy first.
    """
    pending = list(range(len(records)))
    retried = 0
    errors: dict[str, int] = {}
    for attempt in range(1, FIREHOSE_ATTEMPTS + 1):
        refused = []
        errors = {}
        for call in _calls(records, pending):
            response = client.put_record_batch(
                DeliveryStreamName=stream, Records=[{"Data": records[i]} for i in call]
            )
            if not response.get("FailedPutCount"):
                continue
            for index, result in zip(call, response["RequestResponses"], strict=True):
                if "ErrorCode" in result:
                    refused.append(index)
                    errors[result["ErrorCode"]] = errors.get(result["ErrorCode"], 0) + 1
        if not refused:
            return attempt, retried
        pending = refused
        if attempt < FIREHOSE_ATTEMPTS:
            retried += len(refused)
            time.sleep(random.uniform(0, FIREHOSE_BACKOFF_SECONDS * 2 ** (attempt - 1)))  # noqa: S311
    raise DeliveryFailed(len(pending), len(records), errors, FIREHOSE_ATTEMPTS)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _s3() -> Any:
    global _s3_client  # one client per execution environment, reused across invocations
    if _s3_client is None:
        _s3_client = boto3.client("s3")
    return _s3_client


def _firehose() -> Any:
    global _firehose_client  # as _s3
    if _firehose_client is None:
        _firehose_client = boto3.client("firehose")
    return _firehose_client


# --------------------------------------------------------------------------- handler


def _describe_failure(exc: Exception, sink: str | None) -> tuple[str, dict[str, Any]]:
    """Log fields for a 500: what ``sink`` refused, or (``None``: nothing was being
    written yet) the traceback of an unexpected error."""
    details: dict[str, Any] = {"errorType": type(exc).__name__, "error": str(exc)}
    if isinstance(exc, DeliveryFailed):
        details.update(recordsFailed=exc.failed, errorCodes=exc.errors, attempts=exc.attempts)
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        details["errorCode"] = response.get("Error", {}).get("Code")
    if sink is None:
        import traceback  # only on this rare path: keeps the module's import light

        details["stack"] = traceback.format_exc()
        details.update(_metrics(InternalErrors=1))
        return "unexpected error", details
    failed = {"RecordsFailed": exc.failed} if isinstance(exc, DeliveryFailed) else {}
    details.update(_metrics(InternalErrors=1, **failed))
    return ("write to S3 failed" if sink == "s3" else "delivery to Firehose failed"), details


def _response(status: int, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": dict(RESPONSE_HEADERS),
        "body": _SUCCESS_BODY if payload is None else json.dumps(payload, separators=(",", ":")),
    }


@lru_cache(maxsize=4)
def _logger(level: int) -> JsonLogger:
    """One logger per log level, made once (the level comes with the settings)."""
    return JsonLogger(SERVICE, level=level)


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda entry point for the HTTP API ``POST /clickstream`` route."""
    received_at = _utcnow()
    started = time.perf_counter()
    settings = load_settings()  # ConfigurationError propagates: the invocation fails loudly.
    log = _logger(settings.log_level)
    ids = {
        "requestId": getattr(context, "aws_request_id", None),
        "apiRequestId": _mapping(_mapping(event).get("requestContext")).get("requestId"),
    }
    # where the events go, in every line about this request (the S3 key once chosen)
    where: dict[str, Any] = (
        {"bucket": settings.target, "key": None}
        if settings.sink == "s3"
        else {"deliveryStream": settings.target}
    )
    writing = False
    try:
        events, is_batch = parse_request(event, settings)
        for item in events:
            log.debug(
                "event received",
                **ids,
                eventName=item["eventName"],
                userId=_loggable_user_id(item.get("userId")),
            )
        metadata = ingest_metadata(event, received_at)
        if settings.sink == "s3":
            body = object_body(events, metadata, is_batch)
            where["key"] = key = object_key(received_at, is_batch)
            writing = True
            _s3().put_object(
                Bucket=settings.target, Key=key, Body=body, ContentType="application/json"
            )
            written: dict[str, Any] = {"bytes": len(body)}
        else:
            records = firehose_records(events, metadata)
            writing = True
            attempts, retried = put_records(_firehose(), settings.target, records)
            written = {
                "bytes": sum(map(len, records)),
                "records": len(records),
                "attempts": attempts,
                "recordsRetried": retried,
            }
    except RequestRejected as exc:
        log.warning(
            "request rejected",
            **ids,
            status=exc.status,
            reason=exc.message,
            **_metrics(RequestsRejected=1),
        )
        return _response(exc.status, {"success": False, "message": exc.message})
    except Exception as exc:
        message, details = _describe_failure(exc, settings.sink if writing else None)
        log.error(message, **ids, **where, **details)
        return _response(500, {"success": False, "message": "Internal error"})
    log.info(
        "events stored",
        **ids,
        **where,
        **written,
        durationMs=round((time.perf_counter() - started) * 1000, 3),
        **_metrics(EventsStored=len(events)),
    )
    return _response(200, {"success": True, "count": len(events)} if is_batch else None)
