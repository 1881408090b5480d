"""The clickstream generator: reproducible, realistic, and loadable by the real ETL mapping."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime

import pytest

from clickstream_etl import etl_transform
from clickstream_tools import datagen, etl_load

FUNNEL_ORDER = {name: i for i, name in enumerate(datagen.FUNNEL)}
KEY = re.compile(r"^events/\d{4}/\d{2}/\d{2}/\d{2}/event-[0-9a-f-]{36}\.json$")


@pytest.fixture(scope="module")
def events() -> list[dict]:
    config = datagen.Config(seed=3, events=4000, start=date(2025, 6, 2), days=4)
    return list(datagen.Generator(config).events())


def test_exact_count_and_days(events):
    assert len(events) == 4000
    days = {e["_ingest"]["receivedAt"][:10] for e in events}
    # sessions that start before midnight may end on the next day
    assert {"2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05"} <= days
    assert days <= {"2025-06-02", "2025-06-03", "2025-06-04", "2025-06-05", "2025-06-06"}


def test_same_seed_same_events_other_seed_other_events(events):
    again = list(
        datagen.Generator(
            datagen.Config(seed=3, events=4000, start=date(2025, 6, 2), days=4)
        ).events()
    )
    assert again == events
    other = list(
        datagen.Generator(
            datagen.Config(seed=4, events=4000, start=date(2025, 6, 2), days=4)
        ).events()
    )
    assert [e["eventId"] for e in other] != [e["eventId"] for e in events]


def test_sessions_follow_the_funnel_with_drop_offs(events):
    by_session = defaultdict(list)
    for event in events:
        by_session[event["sessionId"]].append(event)
    reached = Counter()
    for session in by_session.values():
        session.sort(key=lambda e: e["_ingest"]["receivedAt"])
        names = [e["eventName"] for e in session]
        # no checkout without a cart, no purchase without a checkout, in that order
        if "checkout_complete" in names:
            assert names.index("checkout_start") < names.index("checkout_complete")
            assert names.index("add_to_cart_click") < names.index("checkout_start")
        for step in datagen.FUNNEL:
            if step in names:
                reached[step] += 1
        # one visitor per session, timestamps strictly increasing
        assert len({e["clientId"] for e in session}) == 1
        stamps = [e["_ingest"]["receivedAt"] for e in session]
        assert stamps == sorted(stamps)
        assert len(set(stamps)) == len(stamps)
    counts = [reached[step] for step in datagen.FUNNEL]
    assert counts[2] > counts[3] > counts[4] > counts[5] > 0
    assert counts[0] > counts[5] * 5  # most visits do not end in a purchase


def test_logins_products_and_brands(events):
    names = Counter(e["eventName"] for e in events)
    assert names["login_success"] > 0
    assert names["logout"] > 0
    logged_in = [e for e in events if e["userLoginState"] == "logged_in"]
    assert logged_in
    assert all(e["userId"].startswith("u-") for e in logged_in)
    assert all("userId" not in e for e in events if e["userLoginState"] == "guest")
    products = [e["product"] for e in events if "product" in e]
    assert all(p["price"] > 0 and p["urlPath"].startswith("/product/") for p in products)
    brand_forms = set()
    for p in products:
        brand = p.get("brand", p.get("brandName"))
        brand_forms.add(type(brand).__name__ + ("Name" if "brandName" in p else ""))
    assert brand_forms == {"str", "strName", "dict"}


def test_every_event_maps_through_the_etl(events):
    """The ETL's own mapping turns every generated event into a row, brand and price included."""
    for key, body in datagen.raw_objects(events[:500]):
        assert KEY.match(key)
        modified = datetime(2025, 6, 2, tzinfo=UTC)
        parsed = etl_transform.parse_object(
            body, key=key, etag="x", object_hour=modified, last_modified=modified, size=len(body)
        )
        assert parsed.rejects == []
        (row,) = parsed.rows
        event = json.loads(body)
        assert row.values["event_id"] == event["eventId"]
        assert row.values["event_timestamp_source"] == "ingest"
        assert key.startswith(row.event_hour.strftime("events/%Y/%m/%d/%H/"))
        if "product" in event:
            assert row.values["context_product_brand"]
            assert row.values["context_product_price"] == event["product"]["price"]


def test_ingest_block_is_what_the_ingest_lambda_builds(events):
    """The generator builds _ingest with the ingest Lambda's own code."""
    ingest = datagen.ingest_handler()
    event = events[0]
    block = event["_ingest"]
    request = {
        "requestContext": {
            "apiId": block["apiId"],
            "stage": block["stage"],
            "requestId": block["requestId"],
            "http": {"method": "POST", "path": "/clickstream", "sourceIp": block["sourceIp"]},
        },
        "headers": {"user-agent": block["userAgent"], "x-amzn-trace-id": block["traceId"]},
    }
    received = datetime.fromisoformat(block["receivedAt"].replace("Z", "+00:00"))
    assert ingest.ingest_metadata(request, received) == block
    assert set(block) == {
        "receivedAt", "sourceIp", "userAgent", "method", "path", "requestId", "apiId", "stage",
        "traceId",
    }  # fmt: skip


def test_hourly_objects_hold_each_hour_once_and_load_through_the_etl(events):
    """One batch object per UTC hour, every event in it once, each with its own _ingest."""
    objects = list(datagen.hourly_objects(events))
    hours = {e["_ingest"]["receivedAt"][:13] for e in events}
    assert len(objects) == len(hours)
    assert len({key for key, _ in objects}) == len(objects)
    loaded = []
    for key, body in objects:
        assert re.match(r"^events/\d{4}/\d{2}/\d{2}/\d{2}/batch-[0-9a-f-]{36}\.json$", key)
        modified = datetime(2025, 6, 2, tzinfo=UTC)
        parsed = etl_transform.parse_object(
            body, key=key, etag="x", object_hour=modified, last_modified=modified, size=len(body)
        )
        assert parsed.rejects == []
        assert all(
            key.startswith(row.event_hour.strftime("events/%Y/%m/%d/%H/")) for row in parsed.rows
        )
        loaded += [row.values["event_id"] for row in parsed.rows]
    assert sorted(loaded) == sorted(e["eventId"] for e in events)
    # the same events give the same objects, names included
    assert list(datagen.hourly_objects(events)) == objects


def test_spoiled_events_are_rejected_by_the_etl_with_their_reason(events):
    spoiled = json.loads(json.dumps(events[:400]))
    assert datagen.spoil(spoiled, 5, seed=1) == 5
    rejects = []
    for key, body in datagen.hourly_objects(spoiled):
        modified = datetime(2025, 6, 2, tzinfo=UTC)
        parsed = etl_transform.parse_object(
            body, key=key, etag="x", object_hour=modified, last_modified=modified, size=len(body)
        )
        rejects += parsed.rejects
    assert len(rejects) == 5
    assert all("price" in str(reject) for reject in rejects), rejects


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"events": 0}, "events must be at least 1"),
        ({"days": 0}, "days must be between 1 and 3660"),
        ({"products": 3}, "products must be at least 8"),
        ({"returning_share": 1.5}, "returning_share must be within 0..1"),
    ],
)
def test_bad_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        datagen.Generator(datagen.Config(**changes))


def test_command_line_writes_objects(tmp_path, capsys):
    code = datagen.main(
        [
            "--seed",
            "1",
            "--events",
            "50",
            "--start",
            "2025-01-01",
            "--days",
            "1",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    files = sorted(tmp_path.rglob("event-*.json"))
    assert len(files) == 50
    assert all(KEY.match(str(f.relative_to(tmp_path))) for f in files)
    summary = json.loads(capsys.readouterr().err)
    assert summary["events"] == 50
    assert summary["from"].startswith("2025-01-01T")


def test_command_line_refuses_bad_dates():
    with pytest.raises(SystemExit):
        datagen.main(["--start", "2025-13-01", "--jsonl", "-"])


def test_etl_windows_cover_the_range_within_the_hour_limit():
    windows = list(etl_load.run_windows("2025-01-01T00", "2025-01-15T05"))
    assert windows[0] == {"from": "2025-01-01T00", "to": "2025-01-07T23"}
    assert windows[1] == {"from": "2025-01-08T00", "to": "2025-01-14T23"}
    assert windows[-1] == {"from": "2025-01-15T00", "to": "2025-01-15T05"}
    with pytest.raises(ValueError, match="is empty"):
        list(etl_load.run_windows("2025-01-02T00", "2025-01-01T00"))
