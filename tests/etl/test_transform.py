"""Unit tests of the mapping: every row of the field projection table
(docs/contracts.md#field-projection), every fallback and coercion, and malformed
values and objects."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from clickstream_etl import etl_transform as t

KEY = "events/2024/05/01/10/event-0b7a.json"
LAST_MODIFIED = datetime(2024, 5, 1, 10, 59, 59, tzinfo=UTC)
RECEIVED = "2024-05-01T10:15:30.123Z"
USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/124.0.0.0 Safari/537.36"
)
PAGE_URL = (
    "https://shop.example/p/sku-1?utm_source=google&utm_medium=cpc&utm_campaign=spring"
    "&utm_term=laptop&utm_content=ad-1"
)

FULL_PAYLOAD = {
    "eventId": "2f1c7a34-9a43-4b4e-9f0e-1d2c3b4a5f60",
    "eventName": "product_view",
    "pageUrl": PAGE_URL,
    "referrer": "https://search.example/?q=laptop",
    "userId": "u-123",
    "userLoginState": "logged_in",
    "identity_source": "cognito",
    "clientId": "c-42",
    "sessionId": "s-abc",
    "isFirstVisit": False,
    "product": {
        "id": "sku-1",
        "name": "Laptop",
        "category": "Computers",
        "brand": "SBW",
        "price": 1200,
        "discountPrice": 999,
        "urlPath": "/p/sku-1",
    },
    "element": {"tag": "button", "id": "buy", "role": "button", "text": "Buy", "dataset": {}},
    "_ingest": {
        "receivedAt": RECEIVED,
        "sourceIp": "203.0.113.1",
        "userAgent": USER_AGENT,
        "method": "POST",
        "path": "/clickstream",
        "requestId": "req-1",
        "apiId": "abc123",
        "stage": "$default",
        "traceId": "Root=1-67891233-abcdef012345678912345678",
    },
}


def mapped(payload: dict, **kwargs) -> dict:
    options = {"key": KEY, "index": 0, "last_modified": LAST_MODIFIED, **kwargs}
    return t.map_event(payload, **options).values


def with_changes(**changes) -> dict:
    payload = json.loads(json.dumps(FULL_PAYLOAD))
    for name, value in changes.items():
        if value is ...:
            payload.pop(name, None)
        else:
            payload[name] = value
    return payload


def with_product(**changes) -> dict:
    payload = with_changes()
    for name, value in changes.items():
        if value is ...:
            payload["product"].pop(name, None)
        else:
            payload["product"][name] = value
    return payload


# ---------------------------------------------------------------------------------------------
# the projection table, row by row
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("column", "expected"),
    [
        ("event_id", "2f1c7a34-9a43-4b4e-9f0e-1d2c3b4a5f60"),
        ("event_timestamp", datetime(2024, 5, 1, 10, 15, 30, 123000, tzinfo=UTC)),
        ("event_name", "product_view"),
        ("page_url", PAGE_URL),
        ("referrer", "https://search.example/?q=laptop"),
        ("user_id", "u-123"),
        ("user_login_state", "logged_in"),
        ("identity_source", "cognito"),
        ("client_id", "c-42"),
        ("session_id", "s-abc"),
        ("is_first_visit", False),
        ("context_product_id", "sku-1"),
        ("context_product_name", "Laptop"),
        ("context_product_category", "Computers"),
        ("context_product_brand", "SBW"),
        ("context_product_price", 1200),
        ("context_product_discount_price", 999),
        ("context_product_url_path", "/p/sku-1"),
        ("ingest_metadata", FULL_PAYLOAD["_ingest"]),
        ("event_id_generated", False),
        ("event_timestamp_source", "ingest"),
        ("source_object_key", KEY),
        ("source_event_index", 0),
        # who the visitor is: the user agent, then the page URL's UTM values and referrer
        ("device_type", "desktop"),
        ("browser_family", "Chrome"),
        ("browser_major", "124"),
        ("os_family", "Windows"),
        ("is_bot", False),
        ("referrer_host", "search.example"),
        ("utm_source", "google"),
        ("utm_medium", "cpc"),
        ("utm_campaign", "spring"),
        ("utm_term", "laptop"),
        ("utm_content", "ad-1"),
        ("traffic_channel", "paid_search"),
    ],
)
def test_projection_table_column(column: str, expected: object) -> None:
    assert mapped(with_changes())[column] == expected


def test_element_metadata_and_custom_fields_are_kept_in_payload_extra() -> None:
    payload = with_changes(experiment={"variant": "B"}, scrollDepth=75)
    payload["product"]["sku"] = "SKU-1-RED"
    extra = mapped(payload)["payload_extra"]
    assert extra == {
        "element": FULL_PAYLOAD["element"],
        "experiment": {"variant": "B"},
        "scrollDepth": 75,
        "product": {"sku": "SKU-1-RED"},
    }


def test_nothing_the_client_sent_is_dropped() -> None:
    """Every payload key is either held verbatim by a column or kept in payload_extra."""
    values = mapped(with_changes(custom=[1, 2]))
    assert set(values["payload_extra"]) == {"element", "custom"}
    assert values["ingest_metadata"]["traceId"] == FULL_PAYLOAD["_ingest"]["traceId"]


def test_minimal_event_maps_with_nulls() -> None:
    values = mapped({"eventName": "page_view"})
    for column in ("user_id", "client_id", "session_id", "is_first_visit", "page_url"):
        assert values[column] is None
    assert values["context_product_price"] is None
    assert values["context_product_brand"] is None
    assert values["ingest_metadata"] is None
    assert values["payload_extra"] == {}


def test_identity_source_camel_case_is_accepted() -> None:
    values = mapped(with_changes(identity_source=..., identitySource="google"))
    assert values["identity_source"] == "google"


# ---------------------------------------------------------------------------------------------
# event_id
# ---------------------------------------------------------------------------------------------
def test_client_event_id_need_not_be_a_uuid() -> None:
    assert mapped(with_changes(eventId="evt_000123"))["event_id"] == "evt_000123"


def test_missing_event_id_is_a_deterministic_uuid5_of_key_and_index() -> None:
    first = mapped(with_changes(eventId=...), index=3)
    again = mapped(with_changes(eventId=...), index=3)
    other_index = mapped(with_changes(eventId=...), index=4)
    other_key = mapped(with_changes(eventId=...), index=3, key=KEY + ".2")
    assert first["event_id"] == again["event_id"]
    assert len({first["event_id"], other_index["event_id"], other_key["event_id"]}) == 3
    assert uuid.UUID(first["event_id"]).version == 5
    assert first["event_id_generated"] is True


@pytest.mark.parametrize("value", [None, ""])
def test_null_or_empty_event_id_is_generated(value: object) -> None:
    values = mapped(with_changes(eventId=value))
    assert values["event_id_generated"] is True
    assert values["event_id"] == t.generated_event_id(KEY, 0)


def test_numeric_event_id_is_coerced_and_original_kept() -> None:
    values = mapped(with_changes(eventId=12345))
    assert values["event_id"] == "12345"
    assert values["payload_extra"]["eventId"] == 12345


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"id": 1}, "eventId must be a string, got object"),
        (True, "eventId must be a string, got boolean"),
        ("x" * 129, "eventId is longer than 128 characters"),
    ],
)
def test_bad_event_id_is_rejected(value: object, reason: str) -> None:
    with pytest.raises(t.EventRejected, match=reason):
        mapped(with_changes(eventId=value))


# ---------------------------------------------------------------------------------------------
# event_timestamp: _ingest.receivedAt > payload timestamp > S3 LastModified
# ---------------------------------------------------------------------------------------------
def test_received_at_wins_over_payload_timestamp() -> None:
    values = mapped(with_changes(timestamp="2020-01-01T00:00:00Z"))
    assert values["event_timestamp"] == datetime(2024, 5, 1, 10, 15, 30, 123000, tzinfo=UTC)
    assert values["payload_extra"]["timestamp"] == "2020-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01T09:00:00Z", datetime(2024, 5, 1, 9, tzinfo=UTC)),
        ("2024-05-01T11:00:00+02:00", datetime(2024, 5, 1, 9, tzinfo=UTC)),
        ("2024-05-01T09:00:00", datetime(2024, 5, 1, 9, tzinfo=UTC)),
        (1714554000000, datetime(2024, 5, 1, 9, tzinfo=UTC)),
        (1714554000, datetime(2024, 5, 1, 9, tzinfo=UTC)),
        (1714554000.5, datetime(2024, 5, 1, 9, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_payload_timestamp_without_ingest(value: object, expected: datetime) -> None:
    values = mapped(with_changes(_ingest=..., timestamp=value))
    assert values["event_timestamp"] == expected
    assert values["event_timestamp_source"] == "payload"


def test_event_timestamp_key_is_read_too() -> None:
    values = mapped(with_changes(_ingest=..., eventTimestamp="2024-05-01T08:30:00Z"))
    assert values["event_timestamp"] == datetime(2024, 5, 1, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize("received", ["not a date", "", None, 12.5e30, True])
def test_unusable_received_at_falls_back_to_payload(received: object) -> None:
    payload = with_changes(timestamp="2024-05-01T09:00:00Z")
    payload["_ingest"]["receivedAt"] = received
    values = mapped(payload)
    assert values["event_timestamp"] == datetime(2024, 5, 1, 9, tzinfo=UTC)
    assert values["event_timestamp_source"] == "payload"


@pytest.mark.parametrize("timestamp", [..., "yesterday", "1999-12-31T23:00:00Z", [], -5])
def test_no_usable_timestamp_falls_back_to_last_modified(timestamp: object) -> None:
    values = mapped(with_changes(_ingest=..., timestamp=timestamp))
    assert values["event_timestamp"] == LAST_MODIFIED
    assert values["event_timestamp_source"] == "s3"


def test_no_timestamp_at_all_is_rejected() -> None:
    with pytest.raises(t.EventRejected, match="no usable timestamp"):
        mapped(with_changes(_ingest=...), last_modified=None)


def test_event_hour_is_the_utc_hour_of_the_timestamp() -> None:
    row = t.map_event(with_changes(), key=KEY, index=0, last_modified=None)
    assert row.event_hour == datetime(2024, 5, 1, 10, tzinfo=UTC)


def test_batch_level_ingest_applies_to_events_without_their_own() -> None:
    shared = {"receivedAt": "2024-05-01T07:00:00Z", "requestId": "batch"}
    values = mapped({"eventName": "click"}, shared_ingest=shared)
    assert values["ingest_metadata"] == shared
    assert values["event_timestamp"] == datetime(2024, 5, 1, 7, tzinfo=UTC)


def test_non_object_ingest_is_kept_in_payload_extra() -> None:
    values = mapped(with_changes(_ingest="forged", timestamp="2024-05-01T09:00:00Z"))
    assert values["ingest_metadata"] is None
    assert values["payload_extra"]["_ingest"] == "forged"
    assert values["event_timestamp_source"] == "payload"


# ---------------------------------------------------------------------------------------------
# brand
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("product_changes", "brand", "kept"),
    [
        ({"brand": "Acme"}, "Acme", None),
        ({"brand": ..., "brandName": "Acme"}, "Acme", None),
        ({"brand": {"name": "Acme", "id": 7}}, "Acme", {"brand": {"name": "Acme", "id": 7}}),
        ({"brand": {"title": "Acme"}}, "Acme", {"brand": {"title": "Acme"}}),
        ({"brand": {"name": "N", "title": "T"}}, "N", {"brand": {"name": "N", "title": "T"}}),
        ({"brand": "Acme", "brandName": "Other"}, "Acme", {"brandName": "Other"}),
        ({"brand": "", "brandName": "Acme"}, "Acme", {"brand": ""}),
        ({"brand": {"name": "  "}, "brandName": "Acme"}, "Acme", {"brand": {"name": "  "}}),
        ({"brand": None}, None, None),
        ({"brand": {}}, None, {"brand": {}}),
        ({"brand": 42}, None, {"brand": 42}),
    ],
)
def test_brand_sources(product_changes: dict, brand: str | None, kept: dict | None) -> None:
    values = mapped(with_product(**product_changes))
    assert values["context_product_brand"] == brand
    assert values["payload_extra"].get("product") == kept


# ---------------------------------------------------------------------------------------------
# prices (BIGINT)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected", "kept"),
    [
        (1200, 1200, False),
        (0, 0, False),
        ("1200", 1200, True),
        (" 1200 ", 1200, True),
        (1200.0, 1200, True),
        (19.5, 20, True),
        (19.49, 19, True),
        ("19.5", 20, True),
        ("1e3", 1000, True),
        (None, None, False),
        ("", None, True),
        (2**63 - 1, 2**63 - 1, False),
    ],
)
def test_price_coercion(raw: object, expected: int | None, kept: bool) -> None:
    values = mapped(with_product(price=raw, discountPrice=raw))
    assert values["context_product_price"] == expected
    assert values["context_product_discount_price"] == expected
    extra_product = values["payload_extra"].get("product", {})
    assert ("price" in extra_product) is kept
    if kept:
        assert extra_product["price"] == raw


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc", 'product.price is not numeric: "abc"'),
        ("12,50", "product.price is not numeric"),
        (True, "product.price is not numeric: true"),
        ([1], "product.price is not numeric"),
        ({"amount": 1}, "product.price is not numeric"),
        ("NaN", "product.price is not a finite number"),
        ("Infinity", "product.price is not a finite number"),
        (-1, "product.price must not be negative"),
        ("-0.6", "product.price must not be negative"),
        (2**63, "product.price is out of the BIGINT range"),
        ("1e30", "product.price is out of the BIGINT range"),
    ],
)
def test_bad_price_is_rejected(raw: object, reason: str) -> None:
    with pytest.raises(t.EventRejected, match=reason.replace("(", r"\(")):
        mapped(with_product(price=raw))


def test_bad_discount_price_names_its_field() -> None:
    with pytest.raises(t.EventRejected, match=r"product\.discountPrice is not numeric"):
        mapped(with_product(discountPrice="cheap"))


# ---------------------------------------------------------------------------------------------
# booleans and text coercions
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected", "kept"),
    [
        (True, True, False),
        (False, False, False),
        (None, None, False),
        ("true", True, True),
        ("FALSE", False, True),
        ("1", True, True),
        ("0", False, True),
        ("yes", True, True),
        ("no", False, True),
        (1, True, True),
        (0, False, True),
        ("", None, True),
    ],
)
def test_is_first_visit_coercion(raw: object, expected: bool | None, kept: bool) -> None:
    values = mapped(with_changes(isFirstVisit=raw))
    assert values["is_first_visit"] is expected
    assert ("isFirstVisit" in values["payload_extra"]) is kept


@pytest.mark.parametrize("raw", ["maybe", 2, 0.5, [True], {"v": True}])
def test_bad_is_first_visit_is_rejected(raw: object) -> None:
    with pytest.raises(t.EventRejected, match="isFirstVisit must be a boolean"):
        mapped(with_changes(isFirstVisit=raw))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(123, "123"), (12.0, "12"), (1.5, "1.5"), ("", None)],
)
def test_text_columns_coerce_numbers_and_keep_the_original(raw: object, expected: object) -> None:
    values = mapped(with_changes(userId=raw))
    assert values["user_id"] == expected
    assert values["payload_extra"]["userId"] == raw


@pytest.mark.parametrize(
    ("field", "raw", "reason"),
    [
        ("userId", {"id": 1}, "userId must be a string, got object"),
        ("clientId", ["c"], "clientId must be a string, got array"),
        ("sessionId", False, "sessionId must be a string, got boolean"),
        ("userLoginState", True, "userLoginState must be a string, got boolean"),
        ("pageUrl", {"href": "x"}, "pageUrl must be a string, got object"),
    ],
)
def test_structurally_wrong_text_is_rejected(field: str, raw: object, reason: str) -> None:
    with pytest.raises(t.EventRejected, match=reason):
        mapped(with_changes(**{field: raw}))


def test_product_text_fields_coerce_numeric_ids() -> None:
    values = mapped(with_product(id=1001))
    assert values["context_product_id"] == "1001"
    assert values["payload_extra"]["product"]["id"] == 1001


# ---------------------------------------------------------------------------------------------
# malformed events
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"userId": "u"}, "eventName is missing"),
        ({"eventName": ""}, "eventName must be a non-empty string"),
        ({"eventName": "  "}, "eventName must be a non-empty string"),
        ({"eventName": 5}, "eventName must be a non-empty string, got 5"),
        (["eventName"], "event must be a JSON object, got array"),
        ("page_view", "event must be a JSON object, got string"),
        ({"eventName": "x", "product": "sku-1"}, "product must be a JSON object, got string"),
        ({"eventName": "x", "product": [1]}, "product must be a JSON object, got array"),
    ],
)
def test_malformed_event_is_rejected(payload: object, reason: str) -> None:
    with pytest.raises(t.EventRejected, match=reason):
        t.map_event(payload, key=KEY, index=0, last_modified=LAST_MODIFIED)


@pytest.mark.parametrize(
    "payload",
    [
        {"eventName": "x\u0000y"},
        {"eventName": "x", "element": {"text": "a\u0000"}},
        {"eventName": "x", "custom": ["\u0000"]},
        {"eventName": "x", "product": {"name": "\u0000"}},
    ],
)
def test_nul_characters_are_rejected(payload: dict) -> None:
    with pytest.raises(t.EventRejected, match="NUL character"):
        t.map_event(payload, key=KEY, index=0, last_modified=LAST_MODIFIED)


@pytest.mark.parametrize("depth", [1, 500, 900])
def test_nul_nested_as_deep_as_json_allows_is_rejected_not_raised(depth: int) -> None:
    """json.loads accepts nearly 1000 levels; checking for NUL must not hit the recursion limit."""
    body = '{"eventName": "x", "deep": ' + "[" * depth + '"\\u0000"' + "]" * depth + "}"
    parsed = t.parse_object(
        body.encode(),
        key=KEY,
        etag="e",
        object_hour=LAST_MODIFIED,
        last_modified=LAST_MODIFIED,
        size=1,
    )
    assert parsed.rows == []
    assert [r.event_index for r in parsed.rejects] == [0]
    assert "NUL character" in parsed.rejects[0].reason


def test_unpaired_surrogate_is_rejected() -> None:
    body = b'{"eventName": "click", "element": {"text": "\\ud800"}}'
    parsed = t.parse_object(
        body, key=KEY, etag="e", object_hour=LAST_MODIFIED, last_modified=LAST_MODIFIED, size=1
    )
    assert parsed.rows == []
    assert "unpaired surrogate" in parsed.rejects[0].reason


# ---------------------------------------------------------------------------------------------
# COPY text format
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "\\N"),
        (True, "t"),
        (False, "f"),
        (42, "42"),
        ("a\tb\nc\\d\re", "a\\tb\\nc\\\\d\\re"),
        ("\\N", "\\\\N"),
        ({"k": "v\t"}, '{"k":"v\\\\t"}'),
        (datetime(2024, 5, 1, 10, tzinfo=UTC), "2024-05-01T10:00:00+00:00"),
    ],
)
def test_copy_field_escaping(value: object, expected: str) -> None:
    assert t.copy_field(value) == expected


def test_full_payload_sets_every_column() -> None:
    """map_event sets values by column name: a column it never sets would be NULL in every row."""
    unset = [column for column, value in mapped(with_changes()).items() if value is None]
    assert unset == ["bot_reason"]  # a browser: set for bots only
    crawler = with_changes()
    crawler["_ingest"]["userAgent"] = (
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
    )
    values = mapped(crawler)
    assert (values["device_type"], values["is_bot"], values["bot_reason"]) == (
        "bot",
        True,
        "user_agent",
    )


def test_events_without_a_user_agent_are_not_bots() -> None:
    payload = with_changes(pageUrl=..., referrer=...)
    del payload["_ingest"]["userAgent"]
    values = mapped(payload)
    assert (values["device_type"], values["is_bot"], values["bot_reason"]) == ("other", False, None)
    assert values["traffic_channel"] == "direct"


def test_copy_line_has_one_field_per_column() -> None:
    row = t.map_event(with_changes(), key=KEY, index=0, last_modified=None)
    fields = row.copy_line.decode().rstrip("\n").split("\t")
    assert len(fields) == len(t.COLUMNS)
    assert fields[t.COLUMNS.index("event_id")] == FULL_PAYLOAD["eventId"]


COPY_UNESCAPES = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}


def read_copy_line(line: bytes) -> list[str | None]:
    """What PostgreSQL reads from one COPY text line (the escapes the ETL writes)."""
    fields = []
    for raw in line.decode().removesuffix("\n").split("\t"):
        if raw == "\\N":
            fields.append(None)
            continue
        text, i = [], 0
        while i < len(raw):
            pair = raw[i : i + 2]
            if pair in COPY_UNESCAPES:
                text.append(COPY_UNESCAPES[pair])
                i += 2
            else:
                assert raw[i] != "\\", f"unexpected escape in {raw!r}"
                text.append(raw[i])
                i += 1
        fields.append("".join(text))
    return fields


@pytest.mark.parametrize(
    "changes",
    [
        {},  # nothing to escape: the fast path
        {"userId": "tab\there", "referrer": "line\nbreak\r"},
        {"clientId": "\\N"},  # a literal backslash-N is text, not NULL
        {"sessionId": "back\\slash", "userLoginState": None},
        {"element": {"text": 'say "hi"\t\\'}},  # JSON escapes in payload_extra
        {"pageUrl": "", "identity_source": None, "custom": "ünï\u00e7ødé"},
    ],
)
def test_copy_line_reads_back_as_the_row(changes: dict) -> None:
    row = t.map_event(with_changes(**changes), key=KEY, index=0, last_modified=None)
    read = read_copy_line(row.copy_line)
    assert len(read) == len(t.COLUMNS)
    for column, text, value in zip(t.COLUMNS, read, row.fields, strict=True):
        if value is None:
            assert text is None, column
        elif isinstance(value, dict):
            assert json.loads(text) == value, column
        elif isinstance(value, bool):
            assert text == ("t" if value else "f"), column
        elif isinstance(value, datetime):
            assert datetime.fromisoformat(text) == value, column
        else:
            assert text == str(value), column


# ---------------------------------------------------------------------------------------------
# objects: single events, the ingest Lambda's batches, arrays, malformed objects
# ---------------------------------------------------------------------------------------------
def parse(body: bytes | str, key: str = KEY) -> t.ParsedObject:
    raw = body.encode() if isinstance(body, str) else body
    return t.parse_object(
        raw,
        key=key,
        etag="etag-1",
        object_hour=datetime(2024, 5, 1, 10, tzinfo=UTC),
        last_modified=LAST_MODIFIED,
        size=len(raw),
    )


def test_single_event_object() -> None:
    parsed = parse(json.dumps(FULL_PAYLOAD))
    assert [row.event_id for row in parsed.rows] == [FULL_PAYLOAD["eventId"]]
    assert parsed.rejects == []


def test_ingest_batch_object_with_per_event_ingest() -> None:
    events = [
        {"eventName": "home_view", "eventId": "a", "_ingest": {"receivedAt": RECEIVED}},
        {"eventName": "click", "eventId": "b", "_ingest": {"receivedAt": RECEIVED}},
    ]
    parsed = parse(json.dumps({"events": events}), key="events/2024/05/01/10/batch-1.json")
    assert [row.event_id for row in parsed.rows] == ["a", "b"]
    assert [row.values["source_event_index"] for row in parsed.rows] == [0, 1]


def test_event_object_with_an_events_field_is_one_event() -> None:
    payload = {"eventName": "search", "events": ["not", "a", "batch"]}
    parsed = parse(json.dumps(payload), key="events/2024/05/01/10/event-1.json")
    assert len(parsed.rows) == 1
    assert parsed.rows[0].values["payload_extra"] == {"events": ["not", "a", "batch"]}


def test_unnamed_object_with_events_and_no_event_name_is_a_batch() -> None:
    body = json.dumps({"events": [{"eventName": "a"}], "_ingest": {"receivedAt": RECEIVED}})
    parsed = parse(body, key="events/2024/05/01/10/legacy.json")
    assert len(parsed.rows) == 1
    assert parsed.rows[0].values["event_timestamp_source"] == "ingest"


def test_top_level_array_is_a_batch_and_bad_elements_are_rejected_alone() -> None:
    body = json.dumps([{"eventName": "a"}, {"nope": 1}, 7, {"eventName": "b"}])
    parsed = parse(body, key="events/2024/05/01/10/array.json")
    assert len(parsed.rows) == 2
    assert [(r.event_index, r.reason) for r in parsed.rejects] == [
        (1, "eventName is missing"),
        (2, "event must be a JSON object, got number"),
    ]
    assert parsed.rejects[0].excerpt == '{"nope": 1}'
    assert parsed.events_rejected == 2
    assert not parsed.object_rejected


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        (b"", KEY, "object is empty"),
        (b"\xff\xfe{}", KEY, "object is not UTF-8 text"),
        (b"{not json", KEY, "object is not valid JSON"),
        (b'{"eventName": "x", "n": NaN}', KEY, "object is not valid JSON: NaN is not valid JSON"),
        (b"[]", "events/x/array.json", "empty JSON array"),
        (b"42", "events/x/other.json", "top-level JSON must be an object or an array, got number"),
        (b'"text"', "events/x/other.json", "got string"),
        (b"[1]", "events/x/event-1.json", "event object must be a JSON object, got array"),
        (b'{"events": []}', "events/x/batch-1.json", "batch object holds no events"),
        (b'{"events": {}}', "events/x/batch-1.json", "events must be an array, got object"),
        (b'[{"eventName": "a"}]', "events/x/batch-1.json", "batch object must be a JSON object"),
        (b"[" * 100000, KEY, "object is not valid JSON"),
    ],
)
def test_malformed_object_is_rejected_whole(body: bytes, key: str, reason: str) -> None:
    parsed = parse(body, key=key)
    assert parsed.object_rejected
    assert parsed.rows == []
    assert len(parsed.rejects) == 1
    assert parsed.rejects[0].event_index is None
    assert reason in parsed.rejects[0].reason
    assert len(parsed.rejects[0].excerpt) <= t.EXCERPT_CHARS
    assert "\x00" not in parsed.rejects[0].excerpt


def test_utf8_bom_is_accepted() -> None:
    parsed = parse(b"\xef\xbb\xbf" + json.dumps({"eventName": "x"}).encode())
    assert len(parsed.rows) == 1


def test_object_reject_excerpt_is_the_start_of_the_body() -> None:
    parsed = parse(b"garbage \x00 here" + b"x" * 2000)
    assert parsed.rejects[0].excerpt.startswith("garbage \\u0000 here")
    assert len(parsed.rejects[0].excerpt) == t.EXCERPT_CHARS


# ---------------------------------------------------------------------------------------------
# batch de-duplication
# ---------------------------------------------------------------------------------------------
def test_unique_rows_keeps_first_by_key_and_index_and_sorts_by_event_id() -> None:
    second = parse(json.dumps([{"eventName": "late", "eventId": "b"}]), key="k/2")
    first = parse(
        json.dumps([{"eventName": "x", "eventId": "b"}, {"eventName": "y", "eventId": "a"}]),
        key="k/1",
    )
    rows = t.unique_rows([second, first])
    assert [row.event_id for row in rows] == ["a", "b"]
    assert rows[1].values["event_name"] == "x"


def test_hour_of_truncates_in_utc() -> None:
    moment = datetime(2024, 5, 1, 10, 59, tzinfo=UTC) + timedelta(hours=5, minutes=30)
    assert t.hour_of(moment.astimezone()) == datetime(2024, 5, 1, 16, tzinfo=UTC)


def test_an_encoded_nul_in_a_utm_value_is_dropped_not_written() -> None:
    """%00 decodes to a character PostgreSQL cannot store: the utm value loses it, and
    the event loads (its page URL keeps what was sent)."""
    url = "https://shop.example/?utm_source=news%00letter&utm_medium=%00"
    values = mapped(with_changes(pageUrl=url))
    assert (values["utm_source"], values["utm_medium"]) == ("newsletter", None)
    assert values["page_url"] == url
    line = t.map_event(with_changes(pageUrl=url), key=KEY, index=0, last_modified=None)
    assert b"\x00" not in line.copy_line
