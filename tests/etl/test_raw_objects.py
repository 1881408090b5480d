"""Every raw shape an hour prefix may hold, told from the bytes (etl_raw), and broken
lines inside otherwise good objects: each bad event is rejected alone, with where it
was, and the others load.  Pure Python: no S3, no database."""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from clickstream_etl import etl_raw
from clickstream_etl import etl_transform as t

HOUR = datetime(2026, 12, 7, 11, tzinfo=UTC)
FIREHOSE_KEY = "events/2026/12/07/11/clickstream-raw-1-2026-12-07-11-05-00-6b1f7c2e"
INGEST = {"receivedAt": "2026-12-07T11:05:00.000Z", "requestId": "r-1"}


def event(n: int, **fields: Any) -> dict[str, Any]:
    return {"eventName": "page_view", "eventId": f"e-{n}", "_ingest": INGEST, **fields}


def ndjson(*items: Any) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def read(body: bytes, key: str = FIREHOSE_KEY, chunk: int | None = None, **limits) -> Any:
    """The whole object, its bytes handed over ``chunk`` bytes at a time."""
    chunks = [body] if chunk is None else [body[i : i + chunk] for i in range(0, len(body), chunk)]
    parts = list(
        t.read_parts(
            chunks,
            key=key,
            etag="etag-1",
            object_hour=HOUR,
            last_modified=HOUR,
            size=len(body),
            **limits,
        )
    )
    assert [p.complete for p in parts] == [False] * (len(parts) - 1) + [True]
    whole = parts[0]
    for part in parts[1:]:
        whole.rows += part.rows
        whole.rejects += part.rejects
    return whole


def ids(parsed: t.ParsedObject) -> list[str]:
    return [row.event_id for row in parsed.rows]


def rejects(parsed: t.ParsedObject) -> list[tuple[int | None, str]]:
    return [(r.event_index, r.reason) for r in parsed.rejects]


# ---------------------------------------------------------------------------------------------
# shapes
# ---------------------------------------------------------------------------------------------
EVENTS = [event(0), event(1, product={"id": "sku-1", "price": 5}), event(2)]
SHAPES = {
    "single event": ("events/2026/12/07/11/event-1.json", json.dumps(EVENTS[0]).encode(), 1),
    "ingest batch": (
        "events/2026/12/07/11/batch-1.json",
        json.dumps({"events": EVENTS}).encode(),
        3,
    ),
    "bare array": ("events/2026/12/07/11/array.json", json.dumps(EVENTS).encode(), 3),
    "newline-delimited": (FIREHOSE_KEY, ndjson(*EVENTS), 3),
    "newline-delimited, CRLF, no final line break": (
        FIREHOSE_KEY,
        b"\r\n".join(json.dumps(e).encode() for e in EVENTS),
        3,
    ),
    "pretty-printed batch": (
        "events/2026/12/07/11/other",
        json.dumps({"events": EVENTS}, indent=2).encode(),
        3,
    ),
    "with a byte order mark": (FIREHOSE_KEY, b"\xef\xbb\xbf" + ndjson(*EVENTS), 3),
}


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_plain_or_gzipped(shape: str, gzipped: bool) -> None:
    key, body, count = SHAPES[shape]
    parsed = read(gzip.compress(body) if gzipped else body, key)
    assert parsed.rejects == []
    assert ids(parsed) == [f"e-{n}" for n in range(count)]
    assert all(row.event_hour == HOUR for row in parsed.rows)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_shape_is_the_same_whatever_the_chunks(shape: str) -> None:
    """The bytes may arrive one at a time: detection and lines wait for what they need."""
    key, body, _ = SHAPES[shape]
    assert ids(read(body, key, chunk=1)) == ids(read(body, key))
    assert ids(read(gzip.compress(body), key, chunk=3)) == ids(read(body, key))


def test_the_key_name_matters_only_for_one_json_object() -> None:
    """An event-<uuid> object with a field called events is one event (as before); an
    object named otherwise with events and no eventName is a batch; a line of a
    newline-delimited object is always one event."""
    payload = {"eventName": "search", "events": ["not", "a", "batch"]}
    single = read(json.dumps(payload).encode(), "events/2026/12/07/11/event-1.json")
    assert len(single.rows) == 1
    assert single.rows[0].values["payload_extra"] == {"events": ["not", "a", "batch"]}
    batch = read(json.dumps({"events": [event(7)]}).encode(), "events/x/legacy.json")
    assert ids(batch) == ["e-7"]
    lines = read(ndjson(payload, {"events": [event(8)]}), "events/x/batch-1.json")
    assert len(lines.rows) == 1
    assert rejects(lines) == [(1, "eventName is missing")]


def test_firehose_object_from_the_ingest_lambdas_own_records() -> None:
    """The records the ingest's firehose sink sends, delivered one after the other."""
    from clickstream_ingest import handler as ingest

    events = [{"eventName": "page_view", "eventId": f"f-{n}"} for n in range(5)]
    metadata = {"receivedAt": "2026-12-07T11:05:00.123Z", "requestId": "r"}
    body = b"".join(ingest.firehose_records(events, metadata))
    for raw in (body, gzip.compress(body)):
        parsed = read(raw)
        assert ids(parsed) == [e["eventId"] for e in events]
        assert [row.values["source_event_index"] for row in parsed.rows] == list(range(5))
        assert parsed.rows[0].values["ingest_metadata"] == metadata


def test_generated_ids_are_stable_per_key_and_line_number() -> None:
    """Index = the 0-based line, blank lines counted: the same id on every reading."""
    body = ndjson({"eventName": "a"}) + b"\n  \n" + ndjson({"eventName": "b"})
    parsed = read(body)
    assert [row.values["source_event_index"] for row in parsed.rows] == [0, 3]
    assert ids(parsed) == [t.generated_event_id(FIREHOSE_KEY, i) for i in (0, 3)]
    assert ids(read(body, chunk=2)) == ids(parsed)
    assert ids(read(gzip.compress(body))) == ids(parsed)


def test_a_json_document_keeps_its_element_indexes() -> None:
    parsed = read(json.dumps([{"eventName": "a"}, {"eventName": "b"}]).encode())
    assert ids(parsed) == [t.generated_event_id(FIREHOSE_KEY, i) for i in (0, 1)]


def test_gzip_of_several_members_is_read_whole() -> None:
    body = gzip.compress(ndjson(event(0))) + gzip.compress(ndjson(event(1), event(2)))
    assert ids(read(body, chunk=7)) == ["e-0", "e-1", "e-2"]


def test_one_line_is_a_document_and_one_event() -> None:
    """A newline-delimited object of one record is a single-event object: the same row."""
    assert ids(read(ndjson(event(0)))) == ["e-0"]


# ---------------------------------------------------------------------------------------------
# broken lines inside good objects
# ---------------------------------------------------------------------------------------------
def test_truncated_last_line_is_rejected_alone() -> None:
    body = ndjson(event(0), event(1)) + json.dumps(event(2)).encode()[:25]
    parsed = read(body)
    assert ids(parsed) == ["e-0", "e-1"]
    [(index, reason)] = rejects(parsed)
    assert index == 2
    assert reason.startswith("line 2 is not valid JSON: Expecting ',' delimiter: column 26")
    assert "last line, without a line break: cut short?" in reason
    assert parsed.rejects[0].excerpt == body.decode()[-25:]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"42", "event must be a JSON object, got number"),
        (b'["eventName"]', "event must be a JSON object, got array"),
        (b'"page_view"', "event must be a JSON object, got string"),
        (b"null", "event must be a JSON object, got null"),
        (b"{not json}", "line 1 is not valid JSON: Expecting property name enclosed in"),
        (b'{"eventName": "x", "n": NaN}', "line 1 is not valid JSON: NaN is not valid JSON"),
        (b'{"eventName": "x\xff"}', "line 1 is not UTF-8 text (invalid start byte at byte 16)"),
        (b'{"eventName": "x\xed\xa0\x80"}', "line 1 is not UTF-8 text (invalid continuation"),
        (b'{"eventName": "x\\u0000"}', "NUL character"),
        (b'{"eventName": "x\\ud800"}', "unpaired surrogate"),
        (b'{"eventName": ""}', "eventName must be a non-empty string"),
        (b"[" * 100_000, "line 1 is not valid JSON"),
    ],
)
def test_a_bad_line_is_rejected_alone_with_its_line_number(line: bytes, reason: str) -> None:
    body = ndjson(event(0)) + line + b"\n" + ndjson(event(2))
    parsed = read(body)
    assert ids(parsed) == ["e-0", "e-2"]
    assert [r.event_index for r in parsed.rejects] == [1]
    assert reason in parsed.rejects[0].reason
    excerpt = parsed.rejects[0].excerpt
    assert len(excerpt) <= t.EXCERPT_CHARS
    assert excerpt == line.decode(errors="replace")[: t.EXCERPT_CHARS]


def test_gzip_that_stops_short_loads_what_came_before_and_rejects_the_rest_once() -> None:
    lines = [event(n, padding="x" * (50 + n)) for n in range(400)]
    compressed = gzip.compress(ndjson(*lines))
    cut = compressed[: len(compressed) * 2 // 3]
    parsed = read(cut, chunk=4096)
    loaded = len(parsed.rows)
    assert 0 < loaded < 400
    assert ids(parsed) == [f"e-{n}" for n in range(loaded)]
    [(index, reason)] = rejects(parsed)
    assert index == loaded  # the line it stopped in: it and everything after are lost
    assert reason.startswith(f"gzip data stops short after {len(cut):,} compressed bytes (")
    assert reason.endswith(f": line {loaded} and everything after it are lost")
    assert parsed.rejects[0].excerpt  # the start of the line cut in two
    assert json.dumps(lines[loaded]).startswith(parsed.rejects[0].excerpt[:40])


def test_gzip_cut_at_a_line_break_rejects_the_next_line_number() -> None:
    body = ndjson(event(0), event(1))
    inflater = zlib.compressobj(wbits=31)
    cut = inflater.compress(body) + inflater.flush(zlib.Z_SYNC_FLUSH)  # no trailer
    parsed = read(cut)
    assert ids(parsed) == ["e-0", "e-1"]
    assert [r.event_index for r in parsed.rejects] == [2]
    assert parsed.rejects[0].excerpt == ""


def test_corrupt_gzip_loads_what_came_before() -> None:
    """Deflate finds corruption a little after it: the lines it garbled on the way are
    rejected too (each alone), then the rest is one reject."""
    compressed = bytearray(gzip.compress(ndjson(*[event(n) for n in range(2000)]), 1))
    middle = len(compressed) // 2
    compressed[middle : middle + 64] = b"\xff" * 64
    parsed = read(bytes(compressed), chunk=1024)
    assert 0 < len(parsed.rows) < 2000
    assert set(ids(parsed)) <= {f"e-{n}" for n in range(2000)}
    last = parsed.rejects[-1]
    assert last.reason.startswith("gzip data is corrupt within compressed bytes")
    assert last.event_index >= len(parsed.rows)


def test_bytes_after_the_gzip_data_are_one_reject() -> None:
    parsed = read(gzip.compress(ndjson(event(0), event(1))) + b"trailing junk")
    assert ids(parsed) == ["e-0", "e-1"]
    [(index, reason)] = rejects(parsed)
    assert index == 2
    assert reason.startswith("gzip data is followed by 13 bytes that are not gzip")
    assert reason.endswith("line 2 and everything after it are lost")


def test_gzip_cut_before_any_event_rejects_the_object() -> None:
    compressed = gzip.compress(json.dumps({"events": EVENTS}).encode())
    parsed = read(compressed[:-30], "events/2026/12/07/11/batch-1.json")
    assert parsed.object_rejected
    [(index, reason)] = rejects(parsed)
    assert index is None
    assert "gzip data stops short" in reason
    assert "no complete event before it" in reason


def test_line_longer_than_the_limit_is_skipped_and_reported() -> None:
    body = ndjson(event(0), event(1, blob="x" * 5000), event(2))
    parsed = read(body, chunk=512, max_document_bytes=1000)
    assert ids(parsed) == ["e-0", "e-2"]
    assert rejects(parsed) == [(1, "line 1 is longer than 1,000 bytes (ETL_MAX_DOCUMENT_BYTES)")]


def test_document_over_the_limit_is_refused_but_newline_delimited_objects_are_not() -> None:
    many = [event(n) for n in range(100)]
    document = read(json.dumps(many).encode(), max_document_bytes=2000)
    assert document.object_rejected
    assert "one JSON document of more than 2,000 bytes" in document.rejects[0].reason
    gzipped = read(gzip.compress(json.dumps(many).encode()), max_document_bytes=2000)
    assert "2,000 bytes once gunzipped" in gzipped.rejects[0].reason
    lines = read(ndjson(*many), max_document_bytes=2000)
    assert len(lines.rows) == 100


def test_newline_delimited_object_whose_first_line_is_not_json_is_refused_whole() -> None:
    """The shape is told by the first line (documented): garbage there reads as a document."""
    parsed = read(b"garbage\n" + ndjson(event(1)))
    assert parsed.object_rejected
    assert parsed.rejects[0].reason.startswith("object is not valid JSON")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "object is empty"),
        (b"  \n\n ", "object is not valid JSON"),
        (gzip.compress(b""), "object is empty"),
        (b"\x1f\x8b\x08garbage", "gzip data is corrupt"),
    ],
)
def test_objects_without_any_event(body: bytes, reason: str) -> None:
    parsed = read(body)
    assert parsed.object_rejected
    assert reason in parsed.rejects[0].reason


# ---------------------------------------------------------------------------------------------
# parts: memory holds a part, not the object
# ---------------------------------------------------------------------------------------------
def test_parts_hold_at_most_a_batch_and_together_the_whole_object() -> None:
    body = ndjson(*[event(n) for n in range(25)]) + b"not json\n"
    parts = list(
        t.read_parts(
            [body],
            key=FIREHOSE_KEY,
            etag="e",
            object_hour=HOUR,
            last_modified=HOUR,
            size=len(body),
            part_rows=10,
            keep_fields=False,
        )
    )
    assert [len(p.rows) + len(p.rejects) for p in parts] == [10, 10, 6]
    assert [p.complete for p in parts] == [False, False, True]
    assert [r.event_id for p in parts for r in p.rows] == [f"e-{n}" for n in range(25)]
    assert all(row.fields is None for p in parts for row in p.rows)
    assert sum(p.copy_bytes for p in parts) == sum(len(r.copy_line) for p in parts for r in p.rows)
    assert [r.event_index for r in parts[-1].rejects] == [25]


@pytest.mark.parametrize("count", [10, 20])
def test_an_object_that_fills_its_parts_exactly_ends_with_a_full_part(count: int) -> None:
    body = ndjson(*[event(n) for n in range(count)])
    parts = list(
        t.read_parts(
            [body], key="k", etag="e", object_hour=HOUR, last_modified=HOUR, size=1, part_rows=10
        )
    )
    assert [len(p.rows) for p in parts] == [10] * (count // 10)


def test_parts_are_bounded_by_copy_bytes_too() -> None:
    body = ndjson(*[event(n, blob="y" * 1000) for n in range(20)])
    parts = list(
        t.read_parts(
            [body], key="k", etag="e", object_hour=HOUR, last_modified=HOUR, size=1, part_bytes=4000
        )
    )
    assert len(parts) > 4
    assert all(p.copy_bytes < 4000 + 1500 for p in parts)


def test_lines_are_split_as_the_bytes_arrive() -> None:
    """The reader never asks for more bytes than the lines it hands out need."""
    taken: list[int] = []

    def chunks() -> Any:
        for n in range(1000):
            taken.append(n)
            yield json.dumps(event(n)).encode() + b"\n"

    parts = t.read_parts(
        chunks(), key="k", etag="e", object_hour=HOUR, last_modified=HOUR, size=1, part_rows=100
    )
    first = next(parts)
    assert len(first.rows) == 100
    assert len(taken) <= 102  # the first part, the line that showed it was full, and no more
    assert sum(len(p.rows) for p in parts) == 900


def test_gunzip_is_incremental_and_bounded_per_step() -> None:
    bomb = gzip.compress(b"\n" * (20 * etl_raw.GUNZIP_STEP))
    sizes = [len(piece) for piece in etl_raw.gunzip([bomb])]
    assert max(sizes) <= etl_raw.GUNZIP_STEP
    assert sum(sizes) == 20 * etl_raw.GUNZIP_STEP
