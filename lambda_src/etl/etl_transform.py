"""Parse raw S3 objects and map each event to a ``clickstream_events`` row.

Pure functions, no I/O: the handler fetches bytes, this module turns them into
rows (already formatted for PostgreSQL's COPY text format) and rejects.

The mapping is the field projection table of seeds/002 plus DESIGN.md:

* ``eventId`` -> ``event_id``; without one, a UUIDv5 of (object key, event index),
  so re-running the same object yields the same id (exactly-once on reruns).
* ``event_timestamp`` = ``_ingest.receivedAt`` > payload ``timestamp`` /
  ``eventTimestamp`` > S3 LastModified.
* ``product.*`` -> ``context_product_*``; brand from ``brand``, ``brandName``,
  ``brand.name``, ``brand.title``; prices BIGINT.
* What no column holds verbatim goes to ``payload_extra`` (JSON), ``_ingest`` to
  ``ingest_metadata``: nothing the client sent is dropped.  A value a column holds
  only after coercion (``"1200"`` -> 1200, ``"true"`` -> true) is kept there too.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

# Namespace of generated event ids: uuid5(NAMESPACE, "<object key>#<event index>").
EVENT_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:clickstream:etl:event")
MAX_EVENT_ID_LENGTH = 128
EXCERPT_CHARS = 500
BIGINT_MAX = 2**63 - 1
# Payload keys read, in order, for the client's own timestamp.
PAYLOAD_TIMESTAMP_KEYS = ("timestamp", "eventTimestamp")
# Epoch numbers above this are milliseconds (1e11 s is the year 5138).
EPOCH_MS_THRESHOLD = 100_000_000_000
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

# COPY column order of the staging table (etl_db.STAGING_COLUMNS repeats it).
COLUMNS = (
    "event_id",
    "event_timestamp",
    "event_name",
    "user_id",
    "user_login_state",
    "identity_source",
    "client_id",
    "session_id",
    "is_first_visit",
    "context_product_id",
    "context_product_name",
    "context_product_category",
    "context_product_brand",
    "context_product_price",
    "context_product_discount_price",
    "context_product_url_path",
    "page_url",
    "referrer",
    "payload_extra",
    "ingest_metadata",
    "event_id_generated",
    "event_timestamp_source",
    "source_object_key",
    "source_event_index",
)

# top-level payload key -> column, for plain text fields
TEXT_FIELDS = (
    ("userId", "user_id"),
    ("userLoginState", "user_login_state"),
    ("clientId", "client_id"),
    ("sessionId", "session_id"),
    ("pageUrl", "page_url"),
    ("referrer", "referrer"),
)
IDENTITY_SOURCE_KEYS = ("identity_source", "identitySource")
PRODUCT_TEXT_FIELDS = (
    ("id", "context_product_id"),
    ("name", "context_product_name"),
    ("category", "context_product_category"),
    ("urlPath", "context_product_url_path"),
)
PRODUCT_PRICE_FIELDS = (
    ("price", "context_product_price"),
    ("discountPrice", "context_product_discount_price"),
)
TRUE_STRINGS = frozenset({"true", "1", "yes", "y", "on"})
FALSE_STRINGS = frozenset({"false", "0", "no", "n", "off"})


class EventRejected(ValueError):
    """An event that cannot become a row; the message is the recorded reason."""


@dataclass(frozen=True)
class Reject:
    event_index: int | None  # None: the whole object
    reason: str
    excerpt: str


@dataclass(frozen=True)
class Row:
    """One mapped event: its id, UTC hour and its COPY text line (bytes, with newline)."""

    event_id: str
    event_hour: datetime
    values: dict[str, Any]
    copy_line: bytes


@dataclass
class ParsedObject:
    key: str
    etag: str
    object_hour: datetime
    last_modified: datetime | None
    size: int
    rows: list[Row] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    object_rejected: bool = False

    @property
    def events_rejected(self) -> int:
        return 0 if self.object_rejected else len(self.rejects)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def show(value: Any, limit: int = 80) -> str:
    """A short, safe rendering of a client value for a reject reason."""
    try:
        text = json.dumps(value, ensure_ascii=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def excerpt_of(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        text = bytes(value[: EXCERPT_CHARS * 4]).decode("utf-8", errors="replace")
    else:
        text = show(value, limit=EXCERPT_CHARS * 2)
    return text.replace("\x00", "\\u0000")[:EXCERPT_CHARS]


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def parse_timestamp(value: Any) -> datetime | None:
    """ISO-8601 text (naive means UTC) or epoch seconds/milliseconds; None if unusable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value):
            return None
        seconds = value / 1000 if abs(value) >= EPOCH_MS_THRESHOLD else value
        try:
            parsed = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    else:
        return None
    return parsed if EARLIEST <= parsed < LATEST else None


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def to_text(value: Any, name: str) -> tuple[str | None, bool]:
    """(column value, verbatim) for a text column; numbers are coerced, '' is NULL."""
    if value is None:
        return None, True
    if isinstance(value, str):
        return (value, True) if value != "" else (None, False)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value), False
    if isinstance(value, float) and math.isfinite(value):
        return (str(int(value)) if value.is_integer() else repr(value)), False
    raise EventRejected(f"{name} must be a string, got {json_type(value)} {show(value)}")


def to_bool(value: Any, name: str) -> tuple[bool | None, bool]:
    if value is None or isinstance(value, bool):
        return value, True
    if isinstance(value, int) and value in (0, 1):
        return bool(value), False
    if isinstance(value, str):
        text = value.strip().lower()
        if text in TRUE_STRINGS:
            return True, False
        if text in FALSE_STRINGS:
            return False, False
        if text == "":
            return None, False
    raise EventRejected(f"{name} must be a boolean, got {json_type(value)} {show(value)}")


def to_bigint(value: Any, name: str) -> tuple[int | None, bool]:
    """A non-negative price as BIGINT; fractions are rounded half-up (not verbatim)."""
    if value is None:
        return None, True
    if isinstance(value, bool):
        raise EventRejected(f"{name} is not numeric: {show(value)}")
    verbatim = isinstance(value, int)
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float | str):
        text = str(value).strip() if isinstance(value, str) else repr(value)
        if text == "":
            return None, False
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise EventRejected(f"{name} is not numeric: {show(value)}") from None
    else:
        raise EventRejected(f"{name} is not numeric: {show(value)}")
    if not number.is_finite():
        raise EventRejected(f"{name} is not a finite number: {show(value)}")
    if number < 0:
        raise EventRejected(f"{name} must not be negative: {show(value)}")
    if number > BIGINT_MAX:
        raise EventRejected(f"{name} is out of the BIGINT range: {show(value)}")
    rounded = int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if rounded > BIGINT_MAX:
        raise EventRejected(f"{name} is out of the BIGINT range: {show(value)}")
    return rounded, verbatim


def pick_brand(product: dict[str, Any]) -> tuple[str | None, set[str]]:
    """Brand from brand / brandName / brand.name / brand.title; (value, keys consumed)."""
    brand = product.get("brand")
    if isinstance(brand, str) and brand.strip():
        return brand, {"brand"}
    brand_name = product.get("brandName")
    if isinstance(brand_name, str) and brand_name.strip():
        return brand_name, {"brandName"}
    if isinstance(brand, dict):
        for sub in ("name", "title"):
            candidate = brand.get(sub)
            if isinstance(candidate, str) and candidate.strip():
                return candidate, set()  # the brand object stays in payload_extra
    consumed = {k for k in ("brand", "brandName") if k in product and product[k] in (None, "")}
    return None, consumed


def generated_event_id(key: str, index: int) -> str:
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{key}#{index}"))


# ---------------------------------------------------------------------------------------------
# COPY text format
# ---------------------------------------------------------------------------------------------
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


_encode_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


def copy_field(value: Any) -> str:
    """One value in COPY text format (the hot path of the transform: type dispatch)."""
    kind = type(value)
    if kind is str:
        text = value
    elif value is None:
        return "\\N"
    elif kind is bool:
        return "t" if value else "f"
    elif kind is int:
        return str(value)
    elif kind is dict or kind is list:
        text = _encode_json(value)
    elif isinstance(value, datetime):
        return value.isoformat()
    else:
        text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


def contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(v) for v in value)
    return False


def copy_line(values: dict[str, Any]) -> bytes:
    line = "\t".join([copy_field(values[column]) for column in COLUMNS]) + "\n"
    try:
        return line.encode("utf-8")
    except UnicodeEncodeError:
        raise EventRejected("event contains invalid Unicode (an unpaired surrogate)") from None


# ---------------------------------------------------------------------------------------------
# mapping
# ---------------------------------------------------------------------------------------------
def map_event(
    payload: Any,
    *,
    key: str,
    index: int,
    last_modified: datetime | None,
    shared_ingest: dict[str, Any] | None = None,
    may_contain_nul: bool = True,
) -> Row:
    """Map one client event (plus ``_ingest``) to a row, or raise :class:`EventRejected`."""
    if not isinstance(payload, dict):
        raise EventRejected(f"event must be a JSON object, got {json_type(payload)}")
    extra: dict[str, Any] = {}
    consumed: set[str] = set()
    values: dict[str, Any] = {"source_object_key": key, "source_event_index": index}

    name = payload.get("eventName")
    if not isinstance(name, str) or not name.strip():
        raise EventRejected(
            "eventName is missing"
            if name is None
            else f"eventName must be a non-empty string, got {show(name)}"
        )
    values["event_name"] = name
    consumed.add("eventName")

    # event_id
    raw_id = payload.get("eventId")
    event_id, id_verbatim = to_text(raw_id, "eventId")
    if event_id is not None and len(event_id) > MAX_EVENT_ID_LENGTH:
        raise EventRejected(f"eventId is longer than {MAX_EVENT_ID_LENGTH} characters")
    values["event_id_generated"] = event_id is None
    values["event_id"] = event_id if event_id is not None else generated_event_id(key, index)
    if id_verbatim:
        consumed.add("eventId")

    # plain text columns
    for source, column in TEXT_FIELDS:
        values[column], verbatim = to_text(payload.get(source), source)
        if verbatim:
            consumed.add(source)
    values["identity_source"] = None
    for source in IDENTITY_SOURCE_KEYS:
        if source in payload:
            value, verbatim = to_text(payload[source], source)
            if values["identity_source"] is None:
                values["identity_source"] = value
                if verbatim:
                    consumed.add(source)
    values["is_first_visit"], verbatim = to_bool(payload.get("isFirstVisit"), "isFirstVisit")
    if verbatim:
        consumed.add("isFirstVisit")

    # product context
    product = payload.get("product")
    for _, column in (*PRODUCT_TEXT_FIELDS, *PRODUCT_PRICE_FIELDS):
        values[column] = None
    values["context_product_brand"] = None
    if isinstance(product, dict):
        product_consumed: set[str] = set()
        for source, column in PRODUCT_TEXT_FIELDS:
            values[column], verbatim = to_text(product.get(source), f"product.{source}")
            if verbatim:
                product_consumed.add(source)
        for source, column in PRODUCT_PRICE_FIELDS:
            values[column], verbatim = to_bigint(product.get(source), f"product.{source}")
            if verbatim:
                product_consumed.add(source)
        values["context_product_brand"], brand_keys = pick_brand(product)
        product_consumed |= brand_keys
        rest = {k: v for k, v in product.items() if k not in product_consumed}
        if rest:
            extra["product"] = rest
        consumed.add("product")
    elif product is None:
        consumed.add("product")
    else:
        raise EventRejected(f"product must be a JSON object, got {json_type(product)}")

    # _ingest: its own column when it is an object (per event, else the batch's)
    ingest = payload.get("_ingest", shared_ingest)
    if isinstance(ingest, dict):
        values["ingest_metadata"] = ingest
        consumed.add("_ingest")
    else:
        values["ingest_metadata"] = None
        if ingest is None:
            consumed.add("_ingest")

    # event_timestamp: _ingest.receivedAt > payload timestamp > S3 LastModified
    moment = parse_timestamp(ingest.get("receivedAt")) if isinstance(ingest, dict) else None
    source = "ingest"
    if moment is None:
        source = "payload"
        for ts_key in PAYLOAD_TIMESTAMP_KEYS:
            moment = parse_timestamp(payload.get(ts_key))
            if moment is not None:
                break
    if moment is None:
        if last_modified is None:
            raise EventRejected("event has no usable timestamp and the object no LastModified")
        moment, source = last_modified.astimezone(UTC), "s3"
    values["event_timestamp"] = moment
    values["event_timestamp_source"] = source

    for k, v in payload.items():
        if k not in consumed and k not in extra:
            extra[k] = v
    values["payload_extra"] = extra
    if may_contain_nul and contains_nul(values):
        raise EventRejected(
            "event contains a NUL character (\\u0000), which PostgreSQL cannot store"
        )
    try:
        line = copy_line(values)
    except ValueError as exc:  # NaN/Infinity from a non-standard producer
        if isinstance(exc, EventRejected):
            raise
        raise EventRejected(f"event is not valid JSON for PostgreSQL: {exc}") from None
    return Row(
        event_id=values["event_id"], event_hour=hour_of(moment), values=values, copy_line=line
    )


# ---------------------------------------------------------------------------------------------
# objects
# ---------------------------------------------------------------------------------------------
def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def object_kind(key: str) -> str:
    """``batch`` / ``event`` from the ingest Lambda's file name, else ``unknown``."""
    name = key.rsplit("/", 1)[-1]
    if name.startswith("batch-"):
        return "batch"
    if name.startswith("event-"):
        return "event"
    return "unknown"


def split_object(body: bytes, key: str = "") -> tuple[list[Any], dict[str, Any] | None, bool]:
    """The events of one object, a batch-level ``_ingest``, and whether NUL may occur.

    The ingest Lambda writes ``event-<uuid>.json`` (one event object) and
    ``batch-<uuid>.json`` (``{"events": [...]}``, each element with its ``_ingest``);
    the file name says which, since a client event may have a field called
    ``events``.  Objects named otherwise are recognised by content: an object with
    ``events`` and no ``eventName`` is a batch, a top-level array is a list of
    events, any other object is one event.  A batch may carry a shared ``_ingest``.
    Raises ValueError with the reason when the object is malformed.
    """
    if not body:
        raise ValueError("object is empty")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"object is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("object is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"object is not valid JSON: {exc}") from None
    may_contain_nul = "\x00" in text or "\\u0000" in text
    kind = object_kind(key)
    if kind == "event":
        if not isinstance(document, dict):
            raise ValueError(f"event object must be a JSON object, got {json_type(document)}")
        return [document], None, may_contain_nul
    if kind == "batch" and not (isinstance(document, dict) and "events" in document):
        raise ValueError('batch object must be a JSON object {"events": [...]}')
    if isinstance(document, list):
        if not document:
            raise ValueError("object is an empty JSON array: no events")
        return document, None, may_contain_nul
    if isinstance(document, dict):
        if kind == "batch" or ("events" in document and "eventName" not in document):
            events = document["events"]
            if not isinstance(events, list):
                raise ValueError(f"batch object's events must be an array, got {json_type(events)}")
            if not events:
                raise ValueError("batch object holds no events")
            shared = document.get("_ingest")
            return events, (shared if isinstance(shared, dict) else None), may_contain_nul
        return [document], None, may_contain_nul
    raise ValueError(f"top-level JSON must be an object or an array, got {json_type(document)}")


def parse_object(
    body: bytes,
    *,
    key: str,
    etag: str,
    object_hour: datetime,
    last_modified: datetime | None,
    size: int,
) -> ParsedObject:
    parsed = ParsedObject(
        key=key, etag=etag, object_hour=object_hour, last_modified=last_modified, size=size
    )
    try:
        events, shared_ingest, may_contain_nul = split_object(body, key)
    except ValueError as exc:
        return reject_object(parsed, str(exc), body)
    for index, event in enumerate(events):
        try:
            parsed.rows.append(
                map_event(
                    event,
                    key=key,
                    index=index,
                    last_modified=last_modified,
                    shared_ingest=shared_ingest,
                    may_contain_nul=may_contain_nul,
                )
            )
        except EventRejected as exc:
            parsed.rejects.append(Reject(index, str(exc), excerpt_of(event)))
    return parsed


def reject_object(parsed: ParsedObject, reason: str, body: bytes | None = None) -> ParsedObject:
    parsed.rows.clear()
    parsed.rejects[:] = [Reject(None, reason, excerpt_of(body) if body is not None else "")]
    parsed.object_rejected = True
    return parsed


def unique_rows(objects: Iterable[ParsedObject]) -> list[Row]:
    """Rows of the objects with the first of each event_id kept, sorted by event_id.

    Objects are taken in key order, events in index order, so the same batch always
    keeps the same duplicate; sorting by event_id gives every concurrent run the same
    lock order on the primary key.
    """
    seen: dict[str, Row] = {}
    for obj in sorted(objects, key=lambda o: o.key):
        for row in obj.rows:
            seen.setdefault(row.event_id, row)
    return [seen[event_id] for event_id in sorted(seen)]
