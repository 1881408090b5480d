#!/usr/bin/env python3
"""Realistic, reproducible clickstream data for the dashboards, tests and demos.

Visitors of an electronics shop browse in sessions that follow the funnel
``home_view -> category_view -> product_view -> add_to_cart_click ->
checkout_start -> checkout_complete`` and drop off along the way; some log in,
some come back on later days; products have a brand (sent under the different
keys real frontends use), a price and a discount price.  The same seed always
gives the same events, ids included.

Each event is what the browser sends (docs/contracts.md#browser-event-payload:
``eventId``, ``eventName``, ``clientId``, ``sessionId``, ``userId``, ``product``,
``element`` ...) plus the ``_ingest`` block the ingest Lambda adds, so the output
loads through the real path:

* ``--out s3://BUCKET``  one ``events/YYYY/MM/DD/HH/event-<uuid>.json`` object per
  event, exactly as the ingest Lambda writes them (``AWS_ENDPOINT_URL`` points
  boto3 at the lab's moto server); then run the ETL for those hours.
* ``--out DIR``          the same objects as files under DIR.
* ``--objects hourly``   with ``--out``: one ``batch-<uuid>.json`` object per UTC hour
  (``{"events": [...]}``, each event with its own ``_ingest``) instead of one per event:
  a month of history in 720 objects.
* ``--post URL``         POST each event (without ``_ingest``) to the HTTP API, as a
  browser would; the events then get the time of the request.  For paced,
  concurrent traffic with a report, use clickstream-traffic.

    clickstream-datagen --seed 7 --events 20000 \\
        --start 2025-03-01 --days 7 --out s3://clickstream-raw
"""

from __future__ import annotations

import argparse
import base64
import bisect
import itertools
import json
import random
import sys
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

FUNNEL = (
    "home_view",
    "category_view",
    "product_view",
    "add_to_cart_click",
    "checkout_start",
    "checkout_complete",
)
SITE = "https://shop.example.com"
CATEGORIES = {
    "Laptops": (["Lenovo", "Dell", "HP", "Asus", "Apple"], 12_000_000, 45_000_000),
    "Phones": (["Samsung", "Apple", "Xiaomi", "Oppo", "Google"], 3_000_000, 35_000_000),
    "Headphones": (["Sony", "Bose", "JBL", "Sennheiser"], 500_000, 9_000_000),
    "Monitors": (["LG", "Dell", "Samsung", "AOC"], 2_500_000, 20_000_000),
    "Cameras": (["Canon", "Sony", "Fujifilm", "Nikon"], 8_000_000, 60_000_000),
    "Smart Home": (["Xiaomi", "TP-Link", "Philips"], 300_000, 4_000_000),
    "Gaming": (["Sony", "Nintendo", "Logitech", "Razer"], 800_000, 18_000_000),
    "Accessories": (["Anker", "Logitech", "Baseus", "Ugreen"], 150_000, 2_500_000),
}
MODELS = ("Air", "Pro", "Max", "Lite", "Plus", "Ultra", "Mini", "X", "S", "Neo")
REFERRERS = (
    (None, 0.35),
    ("https://www.google.com/", 0.35),
    ("https://www.facebook.com/", 0.12),
    ("https://mail.example.net/", 0.08),
    ("https://www.bing.com/", 0.05),
    ("https://www.tiktok.com/", 0.05),
)
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 Chrome/124.0 Mobile Safari/537",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
)


def ingest_handler() -> ModuleType:
    """The ingest Lambda's handler module: its code builds ``_ingest`` and the objects."""
    from clickstream_ingest import handler

    return handler


# Version 4 and the RFC 4122 variant, as uuid.UUID(int=..., version=4) sets them.
UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
UUID4_SET = (0x4000 << 64) | (0x8000 << 48)
# Share of the day's sessions starting in each UTC hour (an evening-heavy shop).
HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 3, 4, 5, 6, 6, 6, 7, 7, 6, 6, 6, 7, 8, 9, 9, 8, 6, 4)
# Weekday factor, Monday first: weekends are busier.
WEEKDAY_WEIGHTS = (1.0, 0.95, 0.95, 1.0, 1.1, 1.3, 1.25)


def seeded_uuid(rng: random.Random) -> str:
    """A random (version 4) UUID drawn from ``rng``, as uuid.UUID would print it."""
    bits = rng.getrandbits(128) & UUID4_CLEAR | UUID4_SET
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    category: str
    brand: str
    price: int
    discount_price: int | None
    url_path: str
    # which key the frontend happens to send the brand under (docs/contracts.md#field-projection)
    brand_key: str

    def context(self) -> dict[str, Any]:
        product: dict[str, Any] = {"id": self.id, "name": self.name, "category": self.category}
        if self.brand_key == "brand.name":
            product["brand"] = {"name": self.brand}
        elif self.brand_key == "brand.title":
            product["brand"] = {"title": self.brand}
        else:
            product[self.brand_key] = self.brand
        product["price"] = self.price
        if self.discount_price is not None:
            product["discountPrice"] = self.discount_price
        product["urlPath"] = self.url_path
        return product


def slug(text: str) -> str:
    return "-".join(text.lower().replace("/", " ").split())


def catalog(rng: random.Random, size: int) -> list[Product]:
    """``size`` products over the categories; earlier products are the popular ones."""
    products = []
    names = list(CATEGORIES)
    for number in range(1, size + 1):
        category = names[(number - 1) % len(names)] if number <= len(names) else rng.choice(names)
        brands, low, high = CATEGORIES[category]
        brand = rng.choice(brands)
        name = f"{brand} {category.rstrip('s')} {rng.choice(MODELS)} {rng.randint(2, 99)}"
        price = round(rng.uniform(low, high), -4)
        discount = round(price * rng.uniform(0.75, 0.95), -4) if rng.random() < 0.4 else None
        product_id = f"sku-{number:05d}"
        products.append(
            Product(
                id=product_id,
                name=name,
                category=category,
                brand=brand,
                price=int(price),
                discount_price=None if discount is None else int(discount),
                url_path=f"/product/{slug(name)}-{product_id}",
                brand_key=rng.choice(("brand", "brand", "brandName", "brand.name", "brand.title")),
            )
        )
    return products


@dataclass
class Visitor:
    client_id: str
    user_id: str | None  # an account, if the visitor has or will have one
    logged_in: bool  # a remembered login at the start of the next session
    ip: str
    user_agent: str
    sessions: int = 0


@dataclass
class Config:
    seed: int = 7
    events: int = 20_000
    start: date = date(2025, 3, 1)
    days: int = 7
    products: int = 120
    # returning visitors: share of sessions by someone seen before
    returning_share: float = 0.35
    # mean seconds between two events of a session
    think_seconds: float = 25.0
    _weights: list[float] = field(default_factory=list, repr=False)

    def validate(self) -> None:
        if self.events < 1:
            raise ValueError(f"events must be at least 1, got {self.events}")
        if not 1 <= self.days <= 3660:
            raise ValueError(f"days must be between 1 and 3660, got {self.days}")
        if self.products < len(CATEGORIES):
            raise ValueError(f"products must be at least {len(CATEGORIES)}, got {self.products}")
        if not 0 <= self.returning_share <= 1:
            raise ValueError(f"returning_share must be within 0..1, got {self.returning_share}")
        if self.think_seconds <= 0:
            raise ValueError(f"think_seconds must be positive, got {self.think_seconds}")


class Generator:
    """Sessions day by day; :meth:`days` yields each day's events in time order."""

    def __init__(self, config: Config) -> None:
        config.validate()
        self.config = config
        self.rng = random.Random(config.seed)  # noqa: S311 - reproducible test data, not secrets
        self.products = catalog(self.rng, config.products)
        # Zipf-like popularity: product i is viewed about 1/(i+3) as often as the first
        weights = [1 / (i + 3) for i in range(len(self.products))]
        self._cum = list(itertools.accumulate(weights))
        self._by_category: dict[str, list[int]] = {}
        for index, product in enumerate(self.products):
            self._by_category.setdefault(product.category, []).append(index)
        self.visitors: list[Visitor] = []
        self._users = itertools.count(1)
        self._sessions = 0
        self._session_events = 0

    # -- random helpers ---------------------------------------------------------------------
    def _uuid(self) -> str:
        return seeded_uuid(self.rng)

    def _product(self, category: str | None = None) -> Product:
        if category is None:
            return self.products[bisect.bisect(self._cum, self.rng.random() * self._cum[-1])]
        indexes = self._by_category[category]
        # popular products of the category first, too
        return self.products[indexes[min(int(self.rng.expovariate(0.35)), len(indexes) - 1)]]

    def _visitor(self) -> Visitor:
        if self.visitors and self.rng.random() < self.config.returning_share:
            # recent and loyal visitors come back more often
            index = (
                len(self.visitors)
                - 1
                - min(int(self.rng.expovariate(3 / len(self.visitors))), len(self.visitors) - 1)
            )
            return self.visitors[index]
        has_account = self.rng.random() < 0.3
        visitor = Visitor(
            client_id=f"c-{self._uuid()}",
            user_id=f"u-{next(self._users):06d}" if has_account else None,
            logged_in=has_account and self.rng.random() < 0.5,
            ip=f"198.51.{self.rng.randint(0, 255)}.{self.rng.randint(1, 254)}",
            user_agent=self.rng.choice(USER_AGENTS),
        )
        self.visitors.append(visitor)
        return visitor

    def _referrer(self) -> str | None:
        pick = self.rng.random()
        for referrer, share in REFERRERS:
            pick -= share
            if pick < 0:
                return referrer
        return None

    # -- sessions ---------------------------------------------------------------------------
    def session(self, start: datetime) -> list[dict[str, Any]]:
        """One visit: a list of events (payload + _ingest), in time order."""
        rng = self.rng
        visitor = self._visitor()
        visitor.sessions += 1
        session_id = f"s-{self._uuid()}"
        first_visit = visitor.sessions == 1
        moment = start
        page = SITE + "/"
        referrer = self._referrer()
        events: list[dict[str, Any]] = []
        cart: list[Product] = []

        def emit(name: str, url: str, product: Product | None = None, **extra: Any) -> None:
            nonlocal moment, page, referrer
            if events:
                moment += timedelta(seconds=3 + rng.expovariate(1 / self.config.think_seconds))
            payload: dict[str, Any] = {
                "eventId": self._uuid(),
                "eventName": name,
                "clientId": visitor.client_id,
                "sessionId": session_id,
                "isFirstVisit": first_visit,
                "userLoginState": "logged_in" if visitor.logged_in else "guest",
                "pageUrl": url,
                "referrer": referrer if not events else page,
            }
            if visitor.logged_in:
                payload["userId"] = visitor.user_id
                payload["identity_source"] = "cognito"
            if product is not None:
                payload["product"] = product.context()
            payload.update(extra)
            payload["_ingest"] = self._ingest(visitor, moment)
            events.append(payload)
            page = url

        def click(text: str, url: str) -> None:
            emit("click", url, element={"tag": "button", "id": slug(text), "text": text})

        # entry: the home page, a category from a campaign, or a product from search
        entry = rng.random()
        if entry < 0.7:
            emit("home_view", SITE + "/")
            if rng.random() < 0.2:
                return events  # bounced
        category = rng.choice(list(CATEGORIES))
        if entry < 0.85:
            if entry < 0.7 and rng.random() < 0.12:
                emit("page_view", SITE + rng.choice(("/about", "/stores", "/promotions")))
            if rng.random() < 0.15 and entry < 0.7:
                return events  # left from the home page
            emit("category_view", f"{SITE}/category/{slug(category)}", category=category)
            if rng.random() < 0.25:
                return events
        viewed: list[Product] = []
        for _ in range(1 + min(int(rng.expovariate(0.6)), 8)):
            product = self._product(category if viewed or entry < 0.85 else None)
            category = product.category
            emit("product_view", SITE + product.url_path, product)
            viewed.append(product)
            if rng.random() < 0.08:
                emit("wishlist_toggle", SITE + product.url_path, product, wishlisted=True)
            if rng.random() < 0.03:
                emit("share_click", SITE + product.url_path, product, channel="facebook")
            if rng.random() < 0.15:
                emit("add_to_cart_click", SITE + product.url_path, product, quantity=1)
                cart.append(product)
            if rng.random() < 0.2:
                click("Reviews", SITE + product.url_path)
            if rng.random() < 0.3:
                category = rng.choice(list(CATEGORIES))
                emit("category_view", f"{SITE}/category/{slug(category)}", category=category)
        if cart and rng.random() < 0.12:
            gone = cart.pop(rng.randrange(len(cart)))
            emit("remove_from_cart_click", SITE + "/cart", gone, quantity=1)
        if not cart or rng.random() < 0.45:
            return events  # abandoned before checkout
        if not visitor.logged_in:
            emit("login_open", SITE + "/cart")
            if visitor.user_id is None and rng.random() < 0.6:
                visitor.user_id = f"u-{next(self._users):06d}"
            if visitor.user_id is None or rng.random() < 0.2:
                return events  # did not log in
            visitor.logged_in = True
            emit("login_success", SITE + "/cart")
        total = sum(p.discount_price or p.price for p in cart)
        emit("checkout_start", SITE + "/checkout", items=len(cart), cartValue=total)
        if rng.random() < 0.3:
            return events  # dropped at payment
        emit(
            "checkout_complete",
            SITE + "/checkout/success",
            orderId=f"o-{self._uuid()[:8]}",
            items=len(cart),
            orderValue=total,
        )
        if rng.random() < 0.25:
            emit("logout", SITE + "/")
            visitor.logged_in = False
        return events

    def _ingest(self, visitor: Visitor, moment: datetime) -> dict[str, Any]:
        """The ``_ingest`` block, built by the ingest Lambda's own code from the request
        a browser would have sent (an HTTP API v2 event)."""
        trace = f"Root=1-{int(moment.timestamp()):08x}-{self.rng.getrandbits(96):024x}"
        request_id = base64.b64encode(self.rng.randbytes(10)).decode()[:14] + "="
        request = {
            "version": "2.0",
            "routeKey": "POST /clickstream",
            "rawPath": "/clickstream",
            "headers": {"user-agent": visitor.user_agent, "x-amzn-trace-id": trace},
            "requestContext": {
                "apiId": "datagen",
                "stage": "$default",
                "requestId": request_id,
                "http": {
                    "method": "POST",
                    "path": "/clickstream",
                    "sourceIp": visitor.ip,
                    "userAgent": visitor.user_agent,
                },
            },
        }
        return ingest_handler().ingest_metadata(request, moment)

    # -- days -------------------------------------------------------------------------------
    def _day_budgets(self) -> list[int]:
        """Events per day, in proportion to the weekday weights, summing to ``events``."""
        days = [self.config.start + timedelta(days=n) for n in range(self.config.days)]
        weights = [WEEKDAY_WEIGHTS[day.weekday()] for day in days]
        total = sum(weights)
        budgets = [int(self.config.events * w / total) for w in weights]
        budgets[-1] += self.config.events - sum(budgets)
        return budgets

    def days(self) -> Iterator[tuple[date, list[dict[str, Any]]]]:
        """Each day and its events sorted by time: exactly ``events`` in all.

        A day gets sessions until its budget of events is reached; the last one is
        cut short, as a visit is when the visitor closes the tab.
        """
        hours = list(range(24))
        for offset, budget in enumerate(self._day_budgets()):
            day = self.config.start + timedelta(days=offset)
            midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
            # start times first, sorted, so a visitor's sessions unfold in time order; as
            # many as the day's budget needs at the mean session length seen so far
            starts: list[datetime] = []
            sessions: list[list[dict[str, Any]]] = []
            produced = 0
            while produced < budget:
                if not starts:
                    count = max(1, round((budget - produced) / self._mean_session_events()))
                    starts = sorted(
                        midnight + timedelta(hours=hour, seconds=self.rng.uniform(0, 3600))
                        for hour in self.rng.choices(hours, HOUR_WEIGHTS, k=count)
                    )
                    starts.reverse()
                events = self.session(starts.pop())
                self._session_events += len(events)
                self._sessions += 1
                events = events[: budget - produced]
                produced += len(events)
                sessions.append(events)
            day_events = [event for events in sessions for event in events]
            day_events.sort(key=lambda e: e["_ingest"]["receivedAt"])
            yield day, day_events

    def _mean_session_events(self) -> float:
        # before any session: about what the defaults give
        return self._session_events / self._sessions if self._sessions else 4.2

    def events(self) -> Iterator[dict[str, Any]]:
        for _day, events in self.days():
            yield from events


# ---------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------
def object_key(event: dict[str, Any]) -> str:
    """Where the ingest Lambda stores this event: the UTC hour of receipt, a UUID."""
    received = event["_ingest"]["receivedAt"]  # YYYY-MM-DDTHH:MM:SS.mmmZ
    digest = uuid.uuid5(uuid.NAMESPACE_URL, "urn:clickstream:datagen:" + event["eventId"])
    return f"{_hour_prefix(received)}/event-{digest}.json"


def _hour_prefix(received_at: str) -> str:
    hour = f"{received_at[0:4]}/{received_at[5:7]}/{received_at[8:10]}/{received_at[11:13]}"
    return f"{ingest_handler().KEY_PREFIX}/{hour}"


def _encode(document: Any) -> bytes:
    return ingest_handler()._OBJECT_ENCODER.encode(document).encode("utf-8")


def raw_objects(events: Iterable[dict[str, Any]]) -> Iterator[tuple[str, bytes]]:
    """``(key, body)`` of each event's raw object, compact JSON as the ingest Lambda writes."""
    for event in events:
        yield object_key(event), _encode(event)


def hourly_objects(events: Iterable[dict[str, Any]]) -> Iterator[tuple[str, bytes]]:
    """``(key, body)`` of one batch object per UTC hour: ``{"events": [...]}``.

    The ingest Lambda's batch shape (``events/YYYY/MM/DD/HH/batch-<uuid>.json``),
    each event with its own ``_ingest``: what a month of history costs as 720
    objects instead of one per event.  Events must come in time order.
    """
    for prefix, group in itertools.groupby(
        events, key=lambda event: _hour_prefix(event["_ingest"]["receivedAt"])
    ):
        batch = list(group)
        name = "urn:clickstream:datagen:batch:" + batch[0]["eventId"]
        yield (
            f"{prefix}/batch-{uuid.uuid5(uuid.NAMESPACE_URL, name)}.json",
            _encode({"events": batch}),
        )


def spoil(events: list[dict[str, Any]], count: int, seed: int) -> int:
    """Make ``count`` events ones the ETL rejects, as a buggy frontend release would send
    (a price as text): the ingest accepts them, the ETL records each with its reason.
    Returns how many were spoiled (at most the events with a product)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    with_product = [event for event in events if "product" in event]
    for event in rng.sample(with_product, min(count, len(with_product))):
        event["product"] = {**event["product"], "price": "call for price"}
    return min(count, len(with_product))


def hour_range(events: Iterable[dict[str, Any]]) -> tuple[str, str] | None:
    """First and last ``YYYY-MM-DDTHH`` of the events (the ETL's ``from``/``to``)."""
    hours = {e["_ingest"]["receivedAt"][:13] for e in events}
    return (min(hours), max(hours)) if hours else None


def write_s3(client: Any, bucket: str, objects: Iterable[tuple[str, bytes]]) -> int:
    count = 0
    for key, body in objects:
        client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")
        count += 1
    return count


def write_dir(root: Path, objects: Iterable[tuple[str, bytes]]) -> int:
    count = 0
    for key, body in objects:
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        count += 1
    return count


def write_jsonl(stream: Any, events: Iterable[dict[str, Any]]) -> int:
    count = 0
    for event in events:
        stream.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False) + "\n")
        count += 1
    return count


def post(url: str, events: Iterable[dict[str, Any]], timeout: float = 10.0) -> int:
    """POST each event as a browser would (the server adds ``_ingest``); return the count.

    The sending is clickstream_tools.traffic's (keep-alive connection, the same checks); a bad URL
    raises ``ValueError``, any event not accepted ``RuntimeError`` once all were sent.
    """
    from clickstream_tools import traffic  # it imports this module: not at the top

    payloads = ({k: v for k, v in event.items() if k != "_ingest"} for event in events)
    return traffic.post_events(url, payloads, timeout=timeout)


# ---------------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------------
def _day(value: str) -> date | None:
    if value == "":
        return None  # the default: ``--days`` days before today
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {value!r}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--events", type=int, default=20_000, help="events in all (20000)")
    parser.add_argument(
        "--start", type=_day, default=None, help="first UTC day (default: --days days before today)"
    )
    parser.add_argument("--days", type=int, default=7, help="number of days (7)")
    parser.add_argument("--products", type=int, default=120, help="catalogue size (120)")
    parser.add_argument(
        "--objects",
        choices=("event", "hourly"),
        default="event",
        help="with --out: one object per event as the s3 sink writes (default), or one batch "
        "object per hour",
    )
    parser.add_argument(
        "--bad-events",
        type=int,
        default=0,
        help="this many events the ETL rejects (a price sent as text), as a buggy frontend "
        "would send (0)",
    )
    parser.add_argument("--summary", metavar="FILE", help="also write the summary (JSON) here")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", help="s3://BUCKET[/ignored] or a directory for the objects")
    target.add_argument("--post", metavar="URL", help="POST each event to this HTTP API URL")
    target.add_argument("--jsonl", metavar="FILE", help="one event per line ('-': stdout)")
    args = parser.parse_args(argv)
    if args.start is None:
        args.start = datetime.now(UTC).date() - timedelta(days=args.days)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    config = Config(
        seed=args.seed, events=args.events, start=args.start, days=args.days, products=args.products
    )
    try:
        generator = Generator(config)
    except ValueError as exc:
        print(f"clickstream-datagen: {exc}", file=sys.stderr)
        return 2
    events = list(generator.events())
    bad = spoil(events, args.bad_events, args.seed) if args.bad_events > 0 else 0
    objects = (hourly_objects if args.objects == "hourly" else raw_objects)(events)
    if args.post:
        count = post(args.post, events)
    elif args.jsonl == "-":
        count = write_jsonl(sys.stdout, events)
    elif args.jsonl:
        with open(args.jsonl, "w", encoding="utf-8") as stream:
            count = write_jsonl(stream, events)
    elif args.out.startswith("s3://"):
        import boto3

        bucket = args.out[5:].split("/", 1)[0]
        if not bucket:
            print("clickstream-datagen: --out s3:// needs a bucket name", file=sys.stderr)
            return 2
        count = write_s3(boto3.client("s3"), bucket, objects)
    else:
        count = write_dir(Path(args.out), objects)
    first, last = hour_range(events) or ("-", "-")
    summary = {
        "events": len(events),
        "bad_events": bad,
        "sessions": len({e["sessionId"] for e in events}),
        "start": args.start.isoformat(),
        "days": args.days,
        "seed": args.seed,
        "from": first,
        "to": last,
    }
    if args.out:
        summary["objects"] = count
    print(json.dumps(summary), file=sys.stderr)
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
