"""A raw object's bytes, read as a stream: gzip, then its shape, then its lines.

Pure functions, no I/O and no mapping: the caller hands in the object's bytes in
chunks (etl_s3 streams them from the GET), etl_transform maps what comes out.  The
shape is told from the bytes, never from the key (docs/contracts.md#raw-objects):

1. **gzip**: bytes starting with ``1f 8b`` are gunzipped as they arrive, member after
   member as gzip allows, at most :data:`GUNZIP_STEP` bytes at a time (a small object
   that inflates enormously is read like a large one).  Data that stops short or turns
   corrupt yields what was decoded before it, then raises :class:`StreamError` saying
   where.
2. A UTF-8 byte order mark is skipped.
3. **Newline-delimited JSON**: the first non-blank line is a complete JSON value on
   its own and another non-blank line follows.  Each line is then one event, parsed on
   its own, numbered by its 0-based line in the object (blank lines are skipped but
   counted), and never held with the rest: :class:`LineReader` splits lines as the
   bytes arrive.  A line longer than the document limit is skipped and reported.
4. Otherwise **one JSON document**, read whole, at most ``max_document_bytes`` once
   gunzipped: a single event, the ingest's ``{"events": [...]}`` batch or a bare array
   (etl_transform.split_object tells which, with the key's ``event-``/``batch-`` name
   as before).  A valid document never has a complete JSON value on its first line
   followed by more lines, so no valid document is taken for newline-delimited JSON;
   a newline-delimited object whose first line is not JSON at all is read as a
   document and refused whole.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
# gunzip at most this many bytes per step: bounds what one compressed chunk can become
GUNZIP_STEP = 1024 * 1024
# bytes of a broken object or line kept for its reject's excerpt
EXCERPT_BYTES = 2000
_BLANK = re.compile(rb"[ \t\r\n]*")


class StreamError(ValueError):
    """The object's bytes stop short or are corrupt; the message says where."""


class ObjectUnreadable(ValueError):
    """No event can be read from the object: the reason, and its first bytes."""

    def __init__(self, reason: str, head: bytes) -> None:
        super().__init__(reason)
        self.head = head[:EXCERPT_BYTES]


@dataclass(frozen=True)
class Document:
    """An object that is one JSON document: its whole (gunzipped) body."""

    body: bytes


def gunzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The decompressed bytes of gzip data, as they come; StreamError where it breaks."""
    inflater: zlib._Decompress | None = zlib.decompressobj(wbits=31)
    read = decoded = 0
    for chunk in chunks:
        data = chunk
        while data:
            if inflater is None:  # a member ended: another may follow (gzip allows it)
                if not GZIP_MAGIC.startswith(data[:2]):
                    raise StreamError(
                        f"gzip data is followed by {len(data)} bytes that are not gzip"
                        f" (after {read:,} compressed bytes, {decoded:,} decoded)"
                    )
                inflater = zlib.decompressobj(wbits=31)
            try:
                out = inflater.decompress(data, GUNZIP_STEP)
            except zlib.error as exc:
                raise StreamError(
                    f"gzip data is corrupt within compressed bytes {read:,} to"
                    f" {read + len(chunk):,} ({exc}; {decoded:,} bytes decoded before)"
                ) from None
            if out:
                decoded += len(out)
                yield out
            if inflater.eof:
                data = inflater.unused_data
                inflater = None
            else:
                data = inflater.unconsumed_tail
        read += len(chunk)
    if inflater is not None:
        raise StreamError(
            f"gzip data stops short after {read:,} compressed bytes ({decoded:,} decoded)"
        )


def decoded(chunks: Iterable[bytes]) -> tuple[Iterator[bytes], bool]:
    """The object's bytes, gunzipped when they start with gzip's magic; whether they were."""
    source = iter(chunks)
    first = b""
    for chunk in source:
        first += chunk
        if len(first) >= len(GZIP_MAGIC):
            break
    stream = chain((first,), source)
    if first.startswith(GZIP_MAGIC):
        return gunzip(stream), True
    return stream, False


def complete_value(line: bytes) -> bool:
    """Whether a line is one complete JSON value (leniently: bad UTF-8 and NaN pass)."""
    try:
        json.loads(line.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return False
    return True


def _shape(head: bytearray, at_end: bool, limit: int) -> type | None:
    """LineReader, Document, or None while the first bytes do not tell yet."""
    start = _BLANK.match(head, len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0).end()
    newline = head.find(b"\n", start) if start < len(head) else -1
    if newline >= 0 and _BLANK.match(head, newline).end() < len(head):
        # a first line and more: newline-delimited when that line stands on its own
        return LineReader if complete_value(bytes(head[start:newline])) else Document
    return Document if at_end or len(head) > limit else None


def open_object(chunks: Iterable[bytes], max_document_bytes: int) -> Document | LineReader:
    """The object's shape from its first bytes: a Document, or a LineReader of its lines.

    Raises :class:`ObjectUnreadable` when no event can be read: a document over the
    limit, or bytes that break before the shape is known or within a document.
    """
    stream, gzipped = decoded(chunks)
    head = bytearray()

    def more() -> bool:
        """Another chunk onto the head; False at the end."""
        chunk = next(stream, None)
        if chunk is not None:
            head.extend(chunk)
        return chunk is not None

    at_end = False
    try:
        while (shape := _shape(head, at_end, max_document_bytes)) is None:
            at_end = not more()
        if shape is LineReader:
            return LineReader(bytes(head).removeprefix(UTF8_BOM), stream, max_document_bytes)
        while not at_end and len(head) <= max_document_bytes:
            at_end = not more()
    except StreamError as exc:
        raise ObjectUnreadable(f"{exc}: no complete event before it", bytes(head)) from None
    if len(head) > max_document_bytes:
        raise ObjectUnreadable(
            f"object is one JSON document of more than {max_document_bytes:,} bytes"
            f"{' once gunzipped' if gzipped else ''} (ETL_MAX_DOCUMENT_BYTES); only"
            " newline-delimited objects may be larger",
            bytes(head),
        )
    return Document(bytes(head))


class LineReader:
    """The lines of a newline-delimited object, split as its bytes arrive.

    Iterating yields ``(index of the first line, lines, problems)`` for each chunk of
    bytes: complete lines only (a line is held until its end arrives), blank ones
    included so that indexes are line numbers.  ``problems`` (usually empty) are
    ``(index, reason, first bytes)`` for lines that cannot be read: one longer than
    the limit, or where the bytes broke off (a gzip that stops short: that line and
    everything after it are lost, one problem).  After the last batch,
    :attr:`unterminated` is the index of a last line that had no line break, if any.
    """

    def __init__(self, head: bytes, rest: Iterator[bytes], max_line_bytes: int) -> None:
        self._head = head
        self._rest = rest
        self._limit = max_line_bytes
        self.unterminated: int | None = None

    def __iter__(self) -> Iterator[tuple[int, list[bytes], list[tuple[int, str, bytes]]]]:
        index = 0
        pending = b""
        skipping = False  # within a line over the limit: drop bytes until its end
        try:
            for chunk in chain((self._head,), self._rest):
                problems: list[tuple[int, str, bytes]] = []
                if skipping:
                    end = chunk.find(b"\n")
                    if end < 0:
                        continue
                    chunk, skipping, index = chunk[end + 1 :], False, index + 1
                lines = (pending + chunk if pending else chunk).split(b"\n")
                pending = lines.pop()
                if len(pending) > self._limit:
                    problems.append(
                        (
                            index + len(lines),
                            f"line {index + len(lines)} is longer than {self._limit:,} bytes"
                            " (ETL_MAX_DOCUMENT_BYTES)",
                            pending[:EXCERPT_BYTES],
                        )
                    )
                    pending, skipping = b"", True
                if lines or problems:
                    yield index, lines, problems
                    index += len(lines)
        except StreamError as exc:
            index += skipping  # a line over the limit was reported already
            lost = f"{exc}: line {index} and everything after it are lost"
            yield index, [], [(index, lost, pending[:EXCERPT_BYTES])]
            return
        if pending and not skipping:
            self.unterminated = index
            yield index, [pending], []
