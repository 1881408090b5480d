"""The clickstream generator: reproducible, realistic, and loadable by the real ETL mapping."""

from __future__ import annotations

import itertools
import json
import re
import statistics
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from urllib.parse import parse_qsl, urlsplit

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


# ---------------------------------------------------------------------------------------------
# who the visitors are: devices, bots and traffic sources (issue #17)
# ---------------------------------------------------------------------------------------------
MIX = datagen.Config(seed=7, events=30000, start=date(2025, 3, 3), days=14)
SEARCH = {"www.google.com", "www.bing.com", "duckduckgo.com"}
SOCIAL = {
    "www.facebook.com", "m.facebook.com", "l.facebook.com", "www.instagram.com",
    "l.instagram.com", "t.co", "www.linkedin.com", "www.tiktok.com",
}  # fmt: skip
PAGE_VIEWS = {"home_view", "category_view", "product_view", "page_view"}


@pytest.fixture(scope="module")
def mix_events() -> list[dict]:
    return list(datagen.Generator(MIX).events())


@pytest.fixture(scope="module")
def visits(mix_events) -> list[tuple[datagen.Agent, list[dict]]]:
    """Each session's agent (what its User-Agent is) and its events in time order."""
    by_session = defaultdict(list)
    for event in mix_events:
        by_session[event["sessionId"]].append(event)
    visits = []
    for session in by_session.values():
        session.sort(key=lambda e: e["_ingest"]["receivedAt"])
        (agent,) = {datagen.AGENT_OF[e["_ingest"]["userAgent"]] for e in session}
        visits.append((agent, session))
    return visits


def most_in_one_second(session: list[dict]) -> int:
    """The most events the session fires within one second."""
    stamps = [
        datetime.fromisoformat(e["_ingest"]["receivedAt"].replace("Z", "+00:00")) for e in session
    ]
    most, first = 0, 0
    for last, stamp in enumerate(stamps):
        while (stamp - stamps[first]).total_seconds() >= 1:
            first += 1
        most = max(most, last - first + 1)
    return most


def channel(session: list[dict]) -> str:
    """The entry's source, as an Acquisition dashboard would group it."""
    landing = urlsplit(session[0]["pageUrl"])
    if any(key.lower().startswith("utm_") for key, _ in parse_qsl(landing.query)):
        return "campaign"
    referrer = session[0]["referrer"]
    if referrer is None:
        return "direct"
    host = urlsplit(referrer).hostname
    if host in SEARCH:
        return "search"
    if host in SOCIAL:
        return "social"
    return "email" if host.startswith("mail.") else "referral"


def shares(counts: Counter) -> dict[str, float]:
    total = sum(counts.values())
    return {key: count / total for key, count in counts.items()}


def test_the_tables_of_agents_sources_and_campaigns_add_up():
    assert datagen.USER_AGENTS[0] == datagen.AGENTS[0].user_agent
    assert datagen.AGENTS[0].kind == "desktop"
    assert datagen.AGENTS[0].client == "Chrome"
    assert len(set(datagen.USER_AGENTS)) == len(datagen.AGENTS)
    kinds = {agent.kind for agent in datagen.AGENTS}
    assert kinds == set(datagen.DEVICE_SHARES) | datagen.BOT_KINDS
    for kind in kinds:
        weights = [agent.weight for agent in datagen.AGENTS if agent.kind == kind]
        assert sum(weights) == pytest.approx(1), kind
    assert sum(datagen.DEVICE_SHARES.values()) == pytest.approx(1)
    assert sum(share for _, share in datagen.REFERRERS) == pytest.approx(1)
    assert sum(campaign.weight for campaign in datagen.CAMPAIGNS) == pytest.approx(1)


def test_visitors_are_people_on_their_devices_and_a_few_bots(visits, mix_events):
    kinds = shares(Counter(agent.kind for agent, _ in visits))
    assert 0.025 <= sum(kinds[kind] for kind in datagen.BOT_KINDS) <= 0.06
    assert 0.012 <= kinds["crawler"] <= 0.035
    assert 0.004 <= kinds["headless"] <= 0.015
    assert 0.004 <= kinds["script"] <= 0.015
    devices = shares(Counter(a.kind for a, _ in visits if a.kind in datagen.DEVICE_SHARES))
    assert 0.33 <= devices["desktop"] <= 0.45
    assert 0.48 <= devices["mobile"] <= 0.62
    assert 0.03 <= devices["tablet"] <= 0.08
    # every User-Agent of the table occurs; people's are full browser strings
    assert {e["_ingest"]["userAgent"] for e in mix_events} == set(datagen.USER_AGENTS)
    clients = Counter(a.client for a, _ in visits if a.kind in datagen.DEVICE_SHARES)
    assert {"Chrome", "Safari", "Edge", "Firefox", "Samsung Internet"} <= set(clients)
    assert {"Facebook", "Instagram"} <= set(clients)
    assert clients["Chrome"] > clients["Safari"] > max(clients["Edge"], clients["Firefox"])
    # a person keeps their browser when they come back; a bot is new at every session
    by_client = defaultdict(set)
    for agent, session in visits:
        by_client[session[0]["clientId"]].add(agent.user_agent)
        if agent.kind in datagen.BOT_KINDS:
            assert all(e["isFirstVisit"] and e["userLoginState"] == "guest" for e in session)
    assert all(len(agents) == 1 for agents in by_client.values())
    assert sum(len(session) > 0 and not session[0]["isFirstVisit"] for _, session in visits) > (
        0.2 * len(visits)
    )


def test_people_come_from_campaigns_search_social_email_referrals_or_directly(visits):
    people = [session for agent, session in visits if agent.kind in datagen.DEVICE_SHARES]
    channels = shares(Counter(channel(session) for session in people))
    assert 0.17 <= channels["campaign"] <= 0.27
    assert 0.24 <= channels["direct"] <= 0.35
    assert 0.21 <= channels["search"] <= 0.32
    assert 0.06 <= channels["social"] <= 0.13
    assert 0.02 <= channels["email"] <= 0.06
    assert 0.05 <= channels["referral"] <= 0.13
    queries = [
        dict(parse_qsl(urlsplit(session[0]["pageUrl"]).query))
        for session in people
        if channel(session) == "campaign"
    ]
    pairs = Counter((q.get("utm_source"), q.get("utm_medium")) for q in queries)
    for pair in (("google", "cpc"), ("facebook", "paid_social"), ("newsletter", "email")):
        assert pairs[pair] > 0, pair
    assert all("utm_campaign" in q or "UTM_Campaign" in q for q in queries)
    assert any("UTM_Source" in q for q in queries)  # keys in odd case
    assert any("utm_term" in q for q in queries)
    assert any("utm_content" in q for q in queries)
    for session in people:
        landing = urlsplit(session[0]["pageUrl"])
        for before, event in itertools.pairwise(session):
            # internal navigation: the page before is the referrer
            assert event["referrer"] == before["pageUrl"]
            # the campaign query stays on the landing page, and only there
            url = urlsplit(event["pageUrl"])
            if url.query:
                assert url.path == landing.path
                assert event["pageUrl"] == session[0]["pageUrl"]


def test_bots_crawl_or_script_and_some_scripts_fire_bursts(visits):
    bots = [(agent, session) for agent, session in visits if agent.kind in datagen.BOT_KINDS]
    people = [session for agent, session in visits if agent.kind in datagen.DEVICE_SHARES]
    for agent, session in bots:
        assert session[0]["referrer"] is None
        assert "?" not in session[0]["pageUrl"]
        # page views only: no cart, checkout, login or clicks
        assert {e["eventName"] for e in session} <= PAGE_VIEWS, agent.client
    crawls = [session for agent, session in bots if agent.kind == "crawler"]
    assert statistics.median(map(len, crawls)) >= 6 > statistics.median(map(len, people))
    # crawlers do not wait as people do: a second or two between pages
    crawl_gaps = [gap for session in crawls for gap in gaps(session)]
    people_gaps = [gap for session in people for gap in gaps(session)]
    assert statistics.median(crawl_gaps) < 3 <= min(people_gaps)
    # the behaviour rule: more than ten events within one second, only from scripted bursts
    bursts = [(a, s) for a, s in visits if most_in_one_second(s) > 10]
    assert len(bursts) >= 5
    assert {agent.kind for agent, _ in bursts} <= {"headless", "script"}
    assert all({e["eventName"] for e in s} == {"product_view"} for _, s in bursts)
    assert max(most_in_one_second(s) for s in crawls) <= 2
    assert max(most_in_one_second(s) for s in people) == 1


def gaps(session: list[dict]) -> list[float]:
    stamps = [
        datetime.fromisoformat(e["_ingest"]["receivedAt"].replace("Z", "+00:00")) for e in session
    ]
    return [(b - a).total_seconds() for a, b in itertools.pairwise(stamps)]


def test_the_mix_is_the_same_for_the_same_seed(mix_events):
    assert list(datagen.Generator(MIX).events()) == mix_events
