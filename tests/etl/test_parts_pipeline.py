"""How parts travel from the reader to the loader, without S3 or a database: the
handler's batches (whole objects together, an object read in parts alone) and the
read-ahead that reads an object's next part while the current one loads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from clickstream_etl import etl_db, etl_s3, etl_transform, handler

HOUR = datetime(2026, 12, 7, 11, tzinfo=UTC)


def parsed(key: str, rows: int = 0, copy_bytes: int = 0) -> etl_transform.ParsedObject:
    obj = etl_transform.ParsedObject(key, "e", HOUR, HOUR, 1, copy_bytes=copy_bytes)
    obj.rows = [etl_transform.Row(f"{key}-{n}", HOUR, None, b"x\n") for n in range(rows)]
    return obj


def streamed(key: str) -> etl_transform.StreamedObject:
    return etl_transform.StreamedObject(parsed(key, 3), iter([]), lambda: iter([]))


def test_whole_objects_are_batched_and_an_object_in_parts_goes_alone() -> None:
    failure = etl_s3.FetchFailure(etl_s3.ListedObject("k/f", "e", HOUR, None, 1), "SlowDown")
    big = streamed("k/big")
    fetched = [parsed("k/1", 3), parsed("k/2", 3), big, parsed("k/3", 3), failure, parsed("k/4")]
    failures: list[Any] = []

    grouped = list(handler.batches(fetched, 5, failures))

    assert [[o.key for o in batch] for batch in grouped] == [
        ["k/1", "k/2"],
        ["k/big"],
        ["k/3", "k/4"],
    ]
    assert failures == [failure]


def test_batches_are_bounded_by_copy_bytes_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(handler, "MAX_BATCH_BYTES", 1000)
    fetched = [parsed(f"k/{n}", 1, copy_bytes=400) for n in range(5)]
    grouped = list(handler.batches(fetched, 10_000, []))
    assert [len(batch) for batch in grouped] == [3, 2]


def parts(count: int, fail_at: int | None = None, closed: list[bool] | None = None) -> Any:
    try:
        for n in range(count):
            if n == fail_at:
                raise etl_transform.ObjectReadError(f"broke at part {n}")
            yield parsed(f"part-{n}", 1)
    finally:
        if closed is not None:
            closed.append(True)


def test_read_ahead_hands_every_part_in_order_from_another_thread() -> None:
    readers: set[str] = set()

    def tracked() -> Any:
        for part in parts(5):
            readers.add(threading.current_thread().name)
            yield part

    ahead = etl_db._ReadAhead(tracked())
    assert [p.key for p in ahead] == [f"part-{n}" for n in range(5)]
    assert list(ahead) == []  # ended, and stays so
    assert readers == {"dw-read-ahead"}
    ahead.close()


def test_read_ahead_raises_what_the_reading_raised() -> None:
    closed: list[bool] = []
    ahead = etl_db._ReadAhead(parts(5, fail_at=2, closed=closed))
    assert next(ahead).key == "part-0"
    assert next(ahead).key == "part-1"
    with pytest.raises(etl_transform.ObjectReadError, match="broke at part 2"):
        next(ahead)
    ahead.close()
    assert closed == [True]


def test_read_ahead_closed_early_stops_and_closes_the_reader() -> None:
    closed: list[bool] = []
    ahead = etl_db._ReadAhead(parts(1000, closed=closed))
    assert next(ahead).key == "part-0"
    ahead.close()
    assert closed == [True]
    assert not ahead._thread.is_alive()
