"""Parse raw S3 objects and map each event to a ``clickstream_events`` row.

Pure functions, no I/O: etl_s3 streams an object's bytes, etl_raw tells its shape
and splits it, this module turns its events into rows (already formatted for
PostgreSQL's COPY text format) and rejects, a part of bounded size at a time.

The mapping is the field projection table of docs/contracts.md#field-projection:

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
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, NamedTuple

from clickstream_common.json_types import json_type
from clickstream_etl import etl_classify, etl_raw

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
# The largest JSON document (single event, batch, array) read whole, once gunzipped,
# and the longest line of a newline-delimited object (ETL_MAX_DOCUMENT_BYTES).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024

# The events table's columns a row holds, in the order of its values and of its COPY
# line.  etl_db names them (then etl_run_id) in its COPY into the events table or into
# the staging table made LIKE it, so this tuple alone orders them;
# tests/etl/test_columns.py holds the names to the migrations.
# Who the visitor is (etl_classify): the user agent's verdict, then what the page URL's
# query and the referrer say of the source, each group in its named tuple's order; the
# only columns a reclassification (etl_reclassify) may change.
CLASS_COLUMNS = (*etl_classify.Agent._fields, "bot_reason", *etl_classify.Source._fields)
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
    *CLASS_COLUMNS,
)
# column -> its value's position in a row: map_event sets each value by column name
SLOT = {column: slot for slot, column in enumerate(COLUMNS)}

# top-level payload key -> (the slot of) its column, for plain text fields
TEXT_FIELDS = (
    ("userId", SLOT["user_id"]),
    ("userLoginState", SLOT["user_login_state"]),
    ("clientId", SLOT["client_id"]),
    ("sessionId", SLOT["session_id"]),
    ("pageUrl", SLOT["page_url"]),
    ("referrer", SLOT["referrer"]),
)
IDENTITY_SOURCE_KEYS = ("identity_source", "identitySource")
PRODUCT_TEXT_FIELDS = (
    ("id", SLOT["context_product_id"]),
    ("name", SLOT["context_product_name"]),
    ("category", SLOT["context_product_category"]),
    ("urlPath", SLOT["context_product_url_path"]),
)
PRODUCT_PRICE_FIELDS = (
    ("price", SLOT["context_product_price"]),
    ("discountPrice", SLOT["context_product_discount_price"]),
)
# payload keys a column holds: left out of payload_extra unless held only after coercion
MAPPED_KEYS = frozenset(
    {"eventName", "eventId", *IDENTITY_SOURCE_KEYS, "isFirstVisit", "product", "_ingest"}
    | {source for source, _ in TEXT_FIELDS}
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


class Row(NamedTuple):
    """One mapped event: its id, UTC hour, column values (COPY order) and COPY text line.

    ``fields`` is None in the rows the ETL reads for loading (``keep_fields=False``):
    the load needs only the rest, and the values would keep the parsed event alive.
    """

    event_id: str
    event_hour: datetime
    fields: tuple[Any, ...] | None
    copy_line: bytes

    @property
    def values(self) -> dict[str, Any]:
        """Column name -> value."""
        return dict(zip(COLUMNS, self.fields, strict=True))


@dataclass
class ParsedObject:
    """An object's rows and rejects; or, with ``complete`` false, a part of them.

    A part holds at most a load batch of records: the parts of one object follow one
    another, the last one complete (see :func:`read_parts`).
    """

    key: str
    etag: str
    object_hour: datetime
    last_modified: datetime | None
    size: int
    rows: list[Row] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    object_rejected: bool = False
    complete: bool = True
    copy_bytes: int = 0  # the COPY text of its rows

    @property
    def events_rejected(self) -> int:
        return 0 if self.object_rejected else len(self.rejects)

    @property
    def events_read(self) -> int:
        """Its events, valid or rejected (an object refused whole holds none)."""
        return len(self.rows) + self.events_rejected


class ObjectReadError(RuntimeError):
    """Reading an object's bytes failed (S3, the network): nothing of it may load."""


@dataclass
class StreamedObject:
    """An object of more than one part: the first, read; the rest, read while loading.

    The loader loads every part in one transaction, pulling them from ``rest`` (which
    raises :class:`ObjectReadError` if the bytes cannot be read); a retried
    transaction starts again from ``reopen()``, all parts of a new read.  ``source``
    is what the reader listed; ``error`` is set when the object could not be read.
    """

    first: ParsedObject
    rest: Iterator[ParsedObject]
    reopen: Callable[[], Iterator[ParsedObject]]
    source: Any = None
    error: str | None = None

    @property
    def key(self) -> str:
        return self.first.key

    @property
    def copy_bytes(self) -> int:
        return self.first.copy_bytes

    def close(self) -> None:
        close = getattr(self.rest, "close", None)
        if close is not None:
            close()


# what the reader hands the loader for one object
Loadable = ParsedObject | StreamedObject


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def show(value: Any, limit: int = 80) -> str:
    """A short, safe rendering of a client value for a reject reason."""
    try:
        text = json.dumps(value, ensure_ascii=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    except RecursionError:
        text = f"<{json_type(value)} nested too deeply>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def excerpt_of(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        text = bytes(value[: EXCERPT_CHARS * 4]).decode("utf-8", errors="replace")
    else:
        text = show(value, limit=EXCERPT_CHARS * 2)
    return text.replace("\x00", "\\u0000")[:EXCERPT_CHARS]


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
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.replace(minute=0, second=0, microsecond=0)


# UTC hours by the first 13 characters of an ISO-8601 UTC timestamp ("2024-05-01T10"):
# a row's hour without a datetime.replace per event
_HOURS: dict[str, datetime] = {}


def _hour_of_text(stamp: str, moment: datetime) -> datetime:
    """The hour of a UTC ``moment`` whose isoformat() is ``stamp``."""
    hour = _HOURS.get(stamp[:13])
    if hour is None:
        if len(_HOURS) > 100_000:  # a rerun of years: start again
            _HOURS.clear()
        hour = _HOURS[stamp[:13]] = hour_of(moment)
    return hour


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
    if type(value) is int and 0 <= value <= BIGINT_MAX:
        return value, True
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
_NULL = "\\N"
_TABS_PER_LINE = len(COLUMNS) - 1


def _json_encoder() -> Callable[[Any], str]:
    """Compact JSON text, non-ASCII kept, NaN/Infinity refused (PostgreSQL rejects them).

    ``json.JSONEncoder.encode`` builds a new C encoder on every call; this builds it
    once (what ``encode`` does inside, without the per-call setup), else falls back.
    """
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # pragma: no cover - CPython always has the C accelerator
        return encoder.encode
    # no cycle markers: what json.loads returns cannot be circular
    c_encode = c_make_encoder(
        None, encoder.default, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    join = "".join

    def encode(value: Any) -> str:
        return join(c_encode(value, 0))

    return encode


_encode_json = _json_encoder()


def copy_field(value: Any) -> str:
    """One value in COPY text format, escaped."""
    kind = type(value)
    if kind is str:
        text = value
    elif value is None:
        return _NULL
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
    """Whether a NUL is in any string (keys included) of this JSON value, however deep."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def _plain(value: Any) -> str:
    """Unescaped COPY text of a value that is neither a string nor None."""
    kind = type(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is int:
        return str(value)
    if kind is dict or kind is list:
        return _encode_json(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _line_bytes(line: str, nulls: int, values: Sequence[Any]) -> bytes:
    """A COPY line of ``values`` formatted unescaped as ``line``, checked, as UTF-8.

    Each NULL adds one backslash and each separator one tab, so when the line holds
    exactly those, no value needed escaping; otherwise (rare: a backslash, tab or line
    break in a value, e.g. a JSON escape) every value is formatted again with
    :func:`copy_field`.
    """
    if (
        line.count("\\") != nulls
        or line.count("\t") != _TABS_PER_LINE
        or "\n" in line
        or "\r" in line
    ):
        line = "\t".join([copy_field(value) for value in values])
    try:
        return (line + "\n").encode("utf-8")
    except UnicodeEncodeError:
        raise EventRejected("event contains invalid Unicode (an unpaired surrogate)") from None


def _copy_text(fields: Sequence[Any]) -> bytes:
    """A COPY text line of any values, one per column."""
    line = "\t".join([v if type(v) is str else _NULL if v is None else _plain(v) for v in fields])
    return _line_bytes(line, fields.count(None), fields)


# the columns map_event fills with something else than text, by slot
_TIMESTAMP = SLOT["event_timestamp"]
_FLAGS = (SLOT["is_first_visit"], SLOT["event_id_generated"], SLOT["is_bot"])
_JSON = SLOT["payload_extra"]
_OPTIONAL_JSON = SLOT["ingest_metadata"]
_NUMBERS = (
    SLOT["context_product_price"],
    SLOT["context_product_discount_price"],
    SLOT["source_event_index"],
)
_FLAG_TEXT = {True: "t", False: "f", None: _NULL}
# the classification's columns, each group set at once from its named tuple
_AGENT = slice(SLOT["device_type"], SLOT["device_type"] + len(etl_classify.Agent._fields))
_BOT_REASON = SLOT["bot_reason"]
_SOURCE = slice(SLOT["referrer_host"], SLOT["referrer_host"] + len(etl_classify.Source._fields))


def _row_text(fields: list[Any], stamp: str) -> bytes:
    """The COPY line of map_event's values, ``stamp`` its timestamp's isoformat() (the
    transform's hot path).

    map_event knows each column's type, so the few that are not text are formatted
    by slot, and the rest joined as they are, without a look at every value's type.
    """
    texts = fields.copy()
    texts[_TIMESTAMP] = stamp
    for slot in _FLAGS:
        texts[slot] = _FLAG_TEXT[texts[slot]]
    texts[_JSON] = _encode_json(texts[_JSON])
    if texts[_OPTIONAL_JSON] is not None:
        texts[_OPTIONAL_JSON] = _encode_json(texts[_OPTIONAL_JSON])
    for slot in _NUMBERS:
        if texts[slot] is not None:
            texts[slot] = str(texts[slot])
    nulls = texts.count(None)
    return _line_bytes("\t".join([_NULL if v is None else v for v in texts]), nulls, fields)


def copy_line(values: dict[str, Any]) -> bytes:
    return _copy_text([values[column] for column in COLUMNS])


# ---------------------------------------------------------------------------------------------
# mapping
# ---------------------------------------------------------------------------------------------
def _text_field(value: Any, name: str, kept: list[str]) -> str | None:
    """A text column's value; ``name`` goes to ``kept`` when the column holds it coerced."""
    if value is None or (type(value) is str and value):
        return value
    text, verbatim = to_text(value, name)
    if not verbatim:
        kept.append(name)
    return text


def map_event(
    payload: Any,
    *,
    key: str,
    index: int,
    last_modified: datetime | None,
    shared_ingest: dict[str, Any] | None = None,
    may_contain_nul: bool = True,
    keep_fields: bool = True,
) -> Row:
    """Map one client event (plus ``_ingest``) to a row, or raise :class:`EventRejected`.

    Checks run in a fixed order, so an event with several problems always gets the
    same reason.  A mapped key whose column holds its value only after coercion is
    listed in ``kept`` and stays in ``payload_extra``.
    """
    if not isinstance(payload, dict):
        raise EventRejected(f"event must be a JSON object, got {json_type(payload)}")
    get = payload.get
    kept: list[str] = []

    name = get("eventName")
    if not isinstance(name, str) or not name.strip():
        raise EventRejected(
            "eventName is missing"
            if name is None
            else f"eventName must be a non-empty string, got {show(name)}"
        )

    event_id = _text_field(get("eventId"), "eventId", kept)
    if event_id is not None and len(event_id) > MAX_EVENT_ID_LENGTH:
        raise EventRejected(f"eventId is longer than {MAX_EVENT_ID_LENGTH} characters")
    id_generated = event_id is None
    if event_id is None:
        event_id = generated_event_id(key, index)

    # the row's values in COLUMNS order, each set by its column's name (SLOT); else NULL
    fields: list[Any] = [None] * len(COLUMNS)
    for source, slot in TEXT_FIELDS:
        value = get(source)
        if value is None or (type(value) is str and value):
            fields[slot] = value
        else:
            fields[slot] = _text_field(value, source, kept)
    identity_source = None
    for source in IDENTITY_SOURCE_KEYS:
        if source in payload:
            value, verbatim = to_text(payload[source], source)
            if identity_source is None:
                identity_source = value
                if not verbatim:
                    kept.append(source)
            else:  # the first spelling won: this one stays in payload_extra
                kept.append(source)
    first_visit = get("isFirstVisit")
    if first_visit is not None and type(first_visit) is not bool:
        first_visit, verbatim = to_bool(first_visit, "isFirstVisit")
        if not verbatim:
            kept.append("isFirstVisit")

    product = get("product")
    product_rest: dict[str, Any] = {}
    if isinstance(product, dict):
        product_consumed: set[str] = set()
        for source, slot in PRODUCT_TEXT_FIELDS:
            value, verbatim = to_text(product.get(source), f"product.{source}")
            fields[slot] = value
            if verbatim:
                product_consumed.add(source)
        for source, slot in PRODUCT_PRICE_FIELDS:
            value, verbatim = to_bigint(product.get(source), f"product.{source}")
            fields[slot] = value
            if verbatim:
                product_consumed.add(source)
        brand, brand_keys = pick_brand(product)
        fields[SLOT["context_product_brand"]] = brand
        product_consumed |= brand_keys
        product_rest = {k: v for k, v in product.items() if k not in product_consumed}
    elif product is not None:
        raise EventRejected(f"product must be a JSON object, got {json_type(product)}")

    # _ingest: its own column when it is an object (per event, else the batch's)
    ingest = get("_ingest", shared_ingest)
    if isinstance(ingest, dict):
        ingest_metadata = ingest
        moment = parse_timestamp(ingest.get("receivedAt"))
    else:
        ingest_metadata = moment = None
        if ingest is not None:
            kept.append("_ingest")

    # event_timestamp: _ingest.receivedAt > payload timestamp > S3 LastModified
    source = "ingest"
    if moment is None:
        source = "payload"
        for ts_key in PAYLOAD_TIMESTAMP_KEYS:
            moment = parse_timestamp(get(ts_key))
            if moment is not None:
                break
    if moment is None:
        if last_modified is None:
            raise EventRejected("event has no usable timestamp and the object no LastModified")
        moment, source = last_modified.astimezone(UTC), "s3"

    if kept:
        keep = frozenset(kept)
        extra = {k: v for k, v in payload.items() if k not in MAPPED_KEYS or k in keep}
    else:
        extra = {k: v for k, v in payload.items() if k not in MAPPED_KEYS}
    if product_rest:
        extra = {"product": product_rest, **extra}

    fields[SLOT["event_id"]] = event_id
    fields[SLOT["event_timestamp"]] = moment
    fields[SLOT["event_name"]] = name
    fields[SLOT["identity_source"]] = identity_source
    fields[SLOT["is_first_visit"]] = first_visit
    fields[SLOT["payload_extra"]] = extra
    fields[SLOT["ingest_metadata"]] = ingest_metadata
    fields[SLOT["event_id_generated"]] = id_generated
    fields[SLOT["event_timestamp_source"]] = source
    fields[SLOT["source_object_key"]] = key
    fields[SLOT["source_event_index"]] = index
    user_agent = ingest_metadata.get("userAgent") if ingest_metadata is not None else None
    agent = etl_classify.classify_agent(user_agent if type(user_agent) is str else None)
    fields[_AGENT] = agent
    fields[_BOT_REASON] = "user_agent" if agent.is_bot else None
    fields[_SOURCE] = etl_classify.classify_source(
        fields[SLOT["page_url"]], fields[SLOT["referrer"]]
    )
    if may_contain_nul and contains_nul(fields):
        raise EventRejected(
            "event contains a NUL character (\\u0000), which PostgreSQL cannot store"
        )
    stamp = moment.isoformat()  # UTC: parse_timestamp's, or LastModified's in UTC
    try:
        line = _row_text(fields, stamp)
    except ValueError as exc:  # NaN/Infinity from a non-standard producer
        if isinstance(exc, EventRejected):
            raise
        raise EventRejected(f"event is not valid JSON for PostgreSQL: {exc}") from None
    hour = _hour_of_text(stamp, moment)
    return Row(event_id, hour, tuple(fields) if keep_fields else None, line)


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
    """The events of an object that is one JSON document, a batch-level ``_ingest``, and
    whether NUL may occur (etl_raw tells documents from newline-delimited objects).

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


def _json_problem(exc: ValueError) -> str:
    """A JSON error of one line, by column (the line is the event's index)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg}: column {exc.colno}"
    return str(exc)


# one decoder for every line: NaN and Infinity are refused, as in a document
_decode_line = json.JSONDecoder(parse_constant=_refuse_constant).decode


def read_parts(
    chunks: Iterable[bytes],
    *,
    key: str,
    etag: str,
    object_hour: datetime,
    last_modified: datetime | None,
    size: int,
    max_document_bytes: int = MAX_DOCUMENT_BYTES,
    part_rows: int = sys.maxsize,
    part_bytes: int = sys.maxsize,
    keep_fields: bool = True,
) -> Iterator[ParsedObject]:
    """The rows and rejects of an object whose bytes come in ``chunks``, part by part.

    The shape comes from the bytes (etl_raw).  A part holds at most ``part_rows``
    records (rows and rejects) and about ``part_bytes`` of COPY text; all parts but
    the last have ``complete`` false, and none is made before the previous one was
    taken, so memory holds a part, not the object.  Each event is parsed and mapped on
    its own: a bad line or element is a :class:`Reject` with its index (the 0-based
    line of a newline-delimited object, the element of an array or batch); an object
    of which nothing can be read is one reject without index.  What iterating
    ``chunks`` raises (a failed read) goes through.
    """
    meta = {
        "key": key,
        "etag": etag,
        "object_hour": object_hour,
        "last_modified": last_modified,
        "size": size,
        "complete": False,
    }
    part = ParsedObject(**meta)
    try:
        shape = etl_raw.open_object(chunks, max_document_bytes)
    except etl_raw.ObjectUnreadable as exc:
        part.complete = True
        yield reject_object(part, str(exc), exc.head)
        return
    if isinstance(shape, etl_raw.Document):
        try:
            events, shared_ingest, may_contain_nul = split_object(shape.body, key)
        except ValueError as exc:
            part.complete = True
            yield reject_object(part, str(exc), shape.body)
            return
        del shape  # the parsed events are all that is needed now
        for index, event in enumerate(events):
            if len(part.rows) + len(part.rejects) >= part_rows or part.copy_bytes >= part_bytes:
                yield part
                part = ParsedObject(**meta)
            try:
                row = map_event(
                    event,
                    key=key,
                    index=index,
                    last_modified=last_modified,
                    shared_ingest=shared_ingest,
                    may_contain_nul=may_contain_nul,
                    keep_fields=keep_fields,
                )
            except EventRejected as exc:
                part.rejects.append(Reject(index, str(exc), excerpt_of(event)))
            except RecursionError:  # json.loads accepted it, a later step did not
                part.rejects.append(Reject(index, "event is nested too deeply", excerpt_of(event)))
            else:
                part.rows.append(row)
                part.copy_bytes += len(row.copy_line)
        part.complete = True
        yield part
        return

    # newline-delimited JSON: one event per line, read as the lines arrive
    rows, rejects, records, copy_bytes = part.rows, part.rejects, 0, 0
    for start, lines, problems in shape:
        for index, line in enumerate(lines, start):
            if not line or line.isspace():
                continue
            if records >= part_rows or copy_bytes >= part_bytes:
                part.copy_bytes = copy_bytes
                yield part
                part = ParsedObject(**meta)
                rows, rejects, records, copy_bytes = part.rows, part.rejects, 0, 0
            records += 1
            try:
                text = line.decode()
            except UnicodeDecodeError as exc:
                reason = f"line {index} is not UTF-8 text ({exc.reason} at byte {exc.start})"
            else:
                try:
                    payload = _decode_line(text)
                except RecursionError:
                    reason = f"line {index} is not valid JSON: nested too deeply"
                except ValueError as exc:
                    reason = f"line {index} is not valid JSON: {_json_problem(exc)}"
                    if index == shape.unterminated:
                        reason += " (the object's last line, without a line break: cut short?)"
                else:
                    try:
                        row = map_event(
                            payload,
                            key=key,
                            index=index,
                            last_modified=last_modified,
                            may_contain_nul="\\u0000" in text,
                            keep_fields=keep_fields,
                        )
                    except EventRejected as exc:
                        reason = str(exc)
                    except RecursionError:
                        reason = "event is nested too deeply"
                    else:
                        rows.append(row)
                        copy_bytes += len(row.copy_line)
                        continue
            rejects.append(Reject(index, reason, excerpt_of(line)))
        for index, reason, head in problems:
            records += 1
            rejects.append(Reject(index, reason, excerpt_of(head)))
    part.copy_bytes = copy_bytes
    part.complete = True
    yield part


def parse_object(body: bytes, **meta: Any) -> ParsedObject:
    """A whole object from its bytes, every row with its values (tests, tools, benchmarks).

    The ETL's own reading (:func:`read_parts`, whose keywords ``meta`` are: key, etag,
    object_hour, last_modified, size, optionally max_document_bytes), in one part.
    """
    (parsed,) = read_parts([body], **meta)
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
