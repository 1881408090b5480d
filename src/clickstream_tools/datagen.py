#!/usr/bin/env python3
"""Realistic, reproducible clickstream data for the dashboards, tests and demos.

Visitors of an electronics shop browse in sessions that follow the funnel
``home_view -> category_view -> product_view -> add_to_cart_click ->
checkout_start -> checkout_complete`` and drop off along the way; some log in,
some come back on later days; products have a brand (sent under the different
keys real frontends use), a price and a discount price.  The same seed always
gives the same events, ids included.

Who the visitors are (AGENTS, REFERRERS, CAMPAIGNS): people on desktops, phones and
tablets with the full User-Agents of the common browsers and of Facebook's and
Instagram's in-app browsers; they land from campaign links (``utm_*`` in the landing
URL's query, on that page only), search engines, social networks, webmail, other sites
or directly.  A few sessions in a hundred are bots' (BOT_SHARES), each a new visitor
with no referrer: crawlers view many pages a second or two apart, headless browsers
and scripts a few, and a quarter of the latter fire a burst of ``product_view``, more
than ten in one second.  AGENT_OF tells what each User-Agent is.

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
import functools
import itertools
import json
import random
import sys
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

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
# Where a person's visit comes from when its link carries no campaign: (referrer, share).
# None is a direct visit (typed, bookmarked, an app that sends no referrer); then search
# engines, social networks, webmail and other sites that link to the shop.
REFERRERS: tuple[tuple[str | None, float], ...] = (
    (None, 0.38),
    ("https://www.google.com/", 0.27),
    ("https://www.bing.com/", 0.045),
    ("https://duckduckgo.com/", 0.025),
    ("https://www.facebook.com/", 0.03),
    ("https://l.facebook.com/", 0.02),
    ("https://www.instagram.com/", 0.025),
    ("https://t.co/", 0.015),
    ("https://www.linkedin.com/", 0.01),
    ("https://www.tiktok.com/", 0.02),
    ("https://mail.google.com/", 0.03),
    ("https://mail.yahoo.com/", 0.01),
    ("https://mail.example.net/", 0.01),
    ("https://www.techradar.com/", 0.035),
    ("https://www.rtings.com/", 0.03),
    ("https://forum.example.org/t/best-budget-laptop/4521", 0.025),
    ("https://deals.example.net/", 0.02),
)
# Share of people's sessions that land from a campaign link (a query of utm_* keys).
CAMPAIGN_SHARE = 0.22


class Campaign(NamedTuple):
    """A tagged link of the shop's marketing: its query and where its clicks come from."""

    params: tuple[tuple[str, str], ...]  # always in the link, keys spelled as the link has them
    referrers: tuple[str | None, ...]  # what the browser sends as referrer on the click
    weight: float  # share among the campaign sessions
    terms: tuple[str, ...] = ()  # utm_term of about half the clicks (the ad's keyword)
    contents: tuple[str, ...] = ()  # utm_content of about half the clicks (which link or ad)
    click_id: str | None = None  # the ad platform's click id it appends to half the clicks


CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign(
        (("utm_source", "google"), ("utm_medium", "cpc"), ("utm_campaign", "spring_sale")),
        ("https://www.google.com/",),
        0.30,
        terms=("gaming laptop", "noise cancelling headphones", "4k monitor", "mirrorless camera"),
        click_id="gclid",
    ),
    Campaign(
        (("utm_source", "bing"), ("utm_medium", "cpc"), ("utm_campaign", "spring_sale")),
        ("https://www.bing.com/",),
        0.06,
        terms=("gaming laptop", "4k monitor"),
    ),
    Campaign(
        (("utm_source", "facebook"), ("utm_medium", "paid_social"), ("utm_campaign", "new_phones")),
        ("https://m.facebook.com/", "https://l.facebook.com/"),
        0.16,
        contents=("carousel", "video_15s"),
        click_id="fbclid",
    ),
    Campaign(
        (("utm_source", "Facebook"), ("utm_medium", "CPC"), ("utm_campaign", "retargeting")),
        ("https://www.facebook.com/",),
        0.06,
    ),
    Campaign(
        (
            ("utm_source", "instagram"),
            ("utm_medium", "paid_social"),
            ("utm_campaign", "new_phones"),
        ),
        ("https://l.instagram.com/",),
        0.10,
        contents=("story", "reel"),
    ),
    Campaign(
        (("utm_source", "newsletter"), ("utm_medium", "email"), ("utm_campaign", "weekly_deals")),
        (None, None, "https://mail.google.com/"),
        0.16,
        contents=("hero", "product_grid", "footer"),
    ),
    # hand-built links of a mailing, keys in odd case
    Campaign(
        (("UTM_Source", "Newsletter"), ("UTM_Medium", "Email"), ("UTM_Campaign", "Black_Friday")),
        (None,),
        0.05,
    ),
    Campaign(
        (("utm_source", "tiktok"), ("utm_medium", "paid_social"), ("utm_campaign", "creators")),
        ("https://www.tiktok.com/",),
        0.05,
    ),
    Campaign(
        (("utm_source", "awin"), ("utm_medium", "affiliate"), ("utm_campaign", "partners")),
        ("https://www.techradar.com/", "https://deals.example.net/"),
        0.06,
    ),
)


class Agent(NamedTuple):
    """A User-Agent the generator sends and what it is: the truth a classification is held to."""

    user_agent: str
    kind: str  # people: desktop, mobile, tablet; bots: crawler, headless, script
    client: str  # the browser, in-app browser or bot
    os: str | None  # the system the string names, None when it names none
    weight: float  # share among the agents of its kind


WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
LINUX = "Mozilla/5.0 (X11; Linux x86_64)"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X)"
IPAD = "Mozilla/5.0 (iPad; CPU OS 17_4_1 like Mac OS X)"
WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
SAFARI_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
CHROME = "Chrome/124.0.0.0 Safari/537.36"
GOOGLEBOT = "compatible; Googlebot/2.1; +http://www.google.com/bot.html"
AGENTS: tuple[Agent, ...] = (
    # people at a desktop or laptop; the first is what clickstream-traffic's bad requests send
    Agent(f"{WINDOWS} {WEBKIT} {CHROME}", "desktop", "Chrome", "Windows", 0.40),
    Agent(f"{WINDOWS} {WEBKIT} {CHROME} Edg/124.0.0.0", "desktop", "Edge", "Windows", 0.14),
    Agent(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "desktop",
        "Firefox",
        "Windows",
        0.08,
    ),
    Agent(
        f"{MAC} {SAFARI_WEBKIT} Version/17.4.1 Safari/605.1.15", "desktop", "Safari", "macOS", 0.16
    ),
    Agent(f"{MAC} {WEBKIT} {CHROME}", "desktop", "Chrome", "macOS", 0.12),
    Agent(f"{LINUX} {WEBKIT} {CHROME}", "desktop", "Chrome", "Linux", 0.06),
    Agent(
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "desktop",
        "Firefox",
        "Linux",
        0.04,
    ),
    # phones
    Agent(
        f"{IPHONE} {SAFARI_WEBKIT} Version/17.4.1 Mobile/15E148 Safari/604.1",
        "mobile",
        "Safari",
        "iOS",
        0.36,
    ),
    Agent(
        f"{IPHONE} {SAFARI_WEBKIT} CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
        "mobile",
        "Chrome",
        "iOS",
        0.06,
    ),
    # Chrome's reduced User-Agent: no model, "Android 10; K" whatever the version
    Agent(
        f"Mozilla/5.0 (Linux; Android 10; K) {WEBKIT} Chrome/124.0.0.0 Mobile Safari/537.36",
        "mobile",
        "Chrome",
        "Android",
        0.28,
    ),
    Agent(
        f"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) {WEBKIT} SamsungBrowser/25.0 "
        "Chrome/121.0.0.0 Mobile Safari/537.36",
        "mobile",
        "Samsung Internet",
        "Android",
        0.09,
    ),
    # the in-app browsers of Facebook and Instagram (a WebView: "wv", or iOS without Safari/)
    Agent(
        f"Mozilla/5.0 (Linux; Android 14; SM-A546B Build/UP1A.231005.007; wv) {WEBKIT} "
        "Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 "
        "[FB_IAB/FB4A;FBAV/460.0.0.48.109;]",
        "mobile",
        "Facebook",
        "Android",
        0.05,
    ),
    Agent(
        f"{IPHONE} {SAFARI_WEBKIT} Mobile/15E148 [FBAN/FBIOS;FBAV/460.0.0.34.108;"
        "FBBV/590393245;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.4.1;FBSS/3;FBID/phone;"
        "FBLC/en_US;FBOP/5;FBRV/592077632]",
        "mobile",
        "Facebook",
        "iOS",
        0.06,
    ),
    Agent(
        f"{IPHONE} {SAFARI_WEBKIT} Mobile/15E148 Instagram 327.0.2.27.83 (iPhone15,2; "
        "iOS 17_4_1; en_US; en; scale=3.00; 1179x2556; 590020145)",
        "mobile",
        "Instagram",
        "iOS",
        0.06,
    ),
    Agent(
        f"Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP1A.240405.002; wv) {WEBKIT} "
        "Version/4.0 Chrome/124.0.6367.54 Mobile Safari/537.36 Instagram 327.0.0.42.96 "
        "Android (34/14; 420dpi; 1080x2400; Google/google; Pixel 8; shiba; shiba; en_US; "
        "587310112)",
        "mobile",
        "Instagram",
        "Android",
        0.04,
    ),
    # tablets: iPads in mobile mode, Android tablets (no "Mobile" token)
    Agent(
        f"{IPAD} {SAFARI_WEBKIT} Version/17.4.1 Mobile/15E148 Safari/604.1",
        "tablet",
        "Safari",
        "iPadOS",
        0.45,
    ),
    Agent(
        f"{IPAD} {SAFARI_WEBKIT} CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
        "tablet",
        "Chrome",
        "iPadOS",
        0.10,
    ),
    Agent(
        f"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-X710) {WEBKIT} SamsungBrowser/25.0 "
        "Chrome/121.0.0.0 Safari/537.36",
        "tablet",
        "Samsung Internet",
        "Android",
        0.22,
    ),
    Agent(
        f"Mozilla/5.0 (Linux; Android 10; K) {WEBKIT} {CHROME}",
        "tablet",
        "Chrome",
        "Android",
        0.13,
    ),
    Agent(
        f"Mozilla/5.0 (Linux; Android 12; Lenovo TB-J606F) {WEBKIT} Chrome/109.0.5414.117 "
        "Safari/537.36",
        "tablet",
        "Chrome",
        "Android",
        0.10,
    ),
    # crawlers of search engines, SEO tools and AI companies
    Agent(
        f"Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) {WEBKIT} "
        f"Chrome/124.0.6367.118 Mobile Safari/537.36 ({GOOGLEBOT})",
        "crawler",
        "Googlebot",
        "Android",
        0.30,
    ),
    Agent(
        f"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; {GOOGLEBOT}) "
        "Chrome/124.0.6367.118 Safari/537.36",
        "crawler",
        "Googlebot",
        None,
        0.12,
    ),
    Agent(
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        "crawler",
        "Bingbot",
        None,
        0.16,
    ),
    Agent(
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "crawler",
        "AhrefsBot",
        None,
        0.12,
    ),
    Agent(
        f"Mozilla/5.0 {WEBKIT}; compatible; GPTBot/1.2; +https://openai.com/gptbot",
        "crawler",
        "GPTBot",
        None,
        0.08,
    ),
    Agent(
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        "crawler",
        "SemrushBot",
        None,
        0.08,
    ),
    Agent(
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "crawler",
        "YandexBot",
        None,
        0.05,
    ),
    Agent(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like "
        "Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "crawler",
        "Applebot",
        "macOS",
        0.05,
    ),
    Agent(
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "crawler",
        "DuckDuckBot",
        None,
        0.04,
    ),
    # headless browsers and scripts: scrapers, monitors, someone's test
    Agent(
        f"{LINUX} {WEBKIT} HeadlessChrome/124.0.6367.60 Safari/537.36",
        "headless",
        "HeadlessChrome",
        "Linux",
        0.6,
    ),
    Agent(
        f"{WINDOWS} {WEBKIT} HeadlessChrome/122.0.6261.94 Safari/537.36",
        "headless",
        "HeadlessChrome",
        "Windows",
        0.4,
    ),
    Agent("curl/8.5.0", "script", "curl", None, 0.45),
    Agent("python-requests/2.31.0", "script", "python-requests", None, 0.55),
)
# Every User-Agent the generator sends, people's browsers first: USER_AGENTS[0] is Chrome on
# Windows.  AGENT_OF gives what each one is.
USER_AGENTS = tuple(agent.user_agent for agent in AGENTS)
AGENT_OF = {agent.user_agent: agent for agent in AGENTS}
# New visitors' devices (returning ones keep theirs), as shares of people's sessions.
DEVICE_SHARES = {"desktop": 0.40, "mobile": 0.55, "tablet": 0.05}
# Shares of all sessions that are bots': crawlers, headless browsers, scripts.
BOT_SHARES = {"crawler": 0.022, "headless": 0.008, "script": 0.007}
BOT_KINDS = frozenset(BOT_SHARES)
# Share of the headless and script sessions that fire a burst of product views, many a
# second (the behaviour a bot rule spots: more than about ten events in one second).
BURST_SHARE = 0.25
# A new person's User-Agent: its device's share times its share among that device's agents.
PEOPLE_AGENTS = tuple(agent.user_agent for agent in AGENTS if agent.kind in DEVICE_SHARES)
PEOPLE_CUM_WEIGHTS = tuple(
    itertools.accumulate(
        DEVICE_SHARES[agent.kind] * agent.weight for agent in AGENTS if agent.kind in DEVICE_SHARES
    )
)
# Pages besides the funnel's, and what a crawler views.
PAGES = ("/about", "/stores", "/promotions")
CRAWLED = ("home", "category", "product", "page")


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

    @property
    def agent(self) -> Agent | None:
        """What the User-Agent is (None for one the generator does not send)."""
        return AGENT_OF.get(self.user_agent)


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
        """A person: someone seen before (recent ones more often), or someone new."""
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
            user_agent=self.rng.choices(PEOPLE_AGENTS, cum_weights=PEOPLE_CUM_WEIGHTS)[0],
        )
        self.visitors.append(visitor)
        return visitor

    def _bot(self, kind: str) -> Visitor:
        """A bot: new at every session (it keeps no cookies), never logged in."""
        agents = [agent for agent in AGENTS if agent.kind == kind]
        agent = self.rng.choices(agents, [agent.weight for agent in agents])[0]
        return Visitor(
            client_id=f"c-{self._uuid()}",
            user_id=None,
            logged_in=False,
            ip=f"203.0.113.{self.rng.randint(1, 254)}",
            user_agent=agent.user_agent,
        )

    def _source(self) -> tuple[str | None, str]:
        """Where a person's visit comes from: (referrer, the landing URL's query or "")."""
        rng = self.rng
        if rng.random() >= CAMPAIGN_SHARE:
            referrers, shares = zip(*REFERRERS, strict=True)
            return rng.choices(referrers, shares)[0], ""
        campaign = rng.choices(CAMPAIGNS, [campaign.weight for campaign in CAMPAIGNS])[0]
        params = list(campaign.params)
        if campaign.terms and rng.random() < 0.5:
            params.append(("utm_term", rng.choice(campaign.terms)))
        if campaign.contents and rng.random() < 0.5:
            params.append(("utm_content", rng.choice(campaign.contents)))
        if campaign.click_id and rng.random() < 0.5:
            token = base64.urlsafe_b64encode(rng.randbytes(33)).decode()
            params.append((campaign.click_id, token))
        return rng.choice(campaign.referrers), "?" + urllib.parse.urlencode(params)

    def _pause(self, minimum: float, mean_extra: float) -> float:
        """Seconds between two events: ``minimum`` plus an exponential ``mean_extra``."""
        return minimum + self.rng.expovariate(1 / mean_extra)

    # -- sessions ---------------------------------------------------------------------------
    def session(self, start: datetime) -> list[dict[str, Any]]:
        """One visit: a list of events (payload + _ingest), in time order.

        A person's (:attr:`Visitor.sessions` > 1 for a returning one), or, for a few
        sessions in a hundred (BOT_SHARES), a crawler's, a headless browser's or a script's.
        """
        pick = self.rng.random()
        for kind, share in BOT_SHARES.items():
            pick -= share
            if pick < 0:
                return self._bot_session(kind, start)
        return self._person_session(start)

    def _person_session(self, start: datetime) -> list[dict[str, Any]]:
        rng = self.rng
        visitor = self._visitor()
        referrer, query = self._source()
        visit = Visit(
            self,
            visitor,
            start,
            referrer,
            query,
            functools.partial(self._pause, 3, self.config.think_seconds),
        )
        emit, click, events = visit.emit, visit.click, visit.events
        cart: list[Product] = []

        # entry: the home page, a category from a campaign, or a product from search
        entry = rng.random()
        if entry < 0.7:
            emit("home_view", SITE + "/")
            if rng.random() < 0.2:
                return events  # bounced
        category = rng.choice(list(CATEGORIES))
        if entry < 0.85:
            if entry < 0.7 and rng.random() < 0.12:
                emit("page_view", SITE + rng.choice(PAGES))
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

    def _bot_session(self, kind: str, start: datetime) -> list[dict[str, Any]]:
        """A bot's visit: no referrer, no campaign, no cart, no login.

        * crawler: 5 to 45 pages (about 10) of the whole site, 0.5 s and more apart
          (about 2 s), entering at the home page, a category or a product;
        * headless: a category and its first products (about 4 events), about 2 s apart;
        * script: 1 to 4 events posted about a second apart;
        * a burst (BURST_SHARE of headless and script sessions): 12 to 30 ``product_view``
          of consecutive catalogue products, 10 to 60 ms apart, all within one or two
          seconds: more than ten events in one second.
        """
        rng = self.rng
        visitor = self._bot(kind)
        burst = kind != "crawler" and rng.random() < BURST_SHARE
        if burst:
            think = functools.partial(rng.uniform, 0.01, 0.06)
        else:
            minimum, mean_extra = {"crawler": (0.5, 1.5), "headless": (0.8, 1.2)}.get(
                kind, (0.2, 0.8)
            )
            think = functools.partial(self._pause, minimum, mean_extra)
        visit = Visit(self, visitor, start, None, "", think)
        if burst:
            first = rng.randrange(len(self.products))
            for n in range(rng.randint(12, 30)):
                product = self.products[(first + n) % len(self.products)]
                visit.emit("product_view", SITE + product.url_path, product)
        elif kind == "crawler":
            for n in range(5 + min(int(rng.expovariate(1 / 5)), 40)):
                page = rng.choices(CRAWLED, (4, 2, 4, 0) if n == 0 else (1, 3, 10, 1))[0]
                self._bot_view(visit, page)
        elif kind == "headless":
            category = rng.choice(list(CATEGORIES))
            visit.emit("category_view", f"{SITE}/category/{slug(category)}", category=category)
            for index in self._by_category[category][: 1 + min(int(rng.expovariate(0.4)), 10)]:
                product = self.products[index]
                visit.emit("product_view", SITE + product.url_path, product)
        else:
            self._bot_view(visit, "home")
            for _ in range(min(int(rng.expovariate(1.0)), 3)):
                self._bot_view(visit, "product")
        return visit.events

    def _bot_view(self, visit: Visit, page: str) -> None:
        """A page view of one of the CRAWLED kinds; products drawn evenly, not by popularity."""
        rng = self.rng
        if page == "home":
            visit.emit("home_view", SITE + "/")
        elif page == "category":
            category = rng.choice(list(CATEGORIES))
            visit.emit("category_view", f"{SITE}/category/{slug(category)}", category=category)
        elif page == "product":
            product = self.products[rng.randrange(len(self.products))]
            visit.emit("product_view", SITE + product.url_path, product)
        else:
            visit.emit("page_view", SITE + rng.choice(PAGES))

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


class Visit:
    """One session as it is written: its visitor, its clock and the page the visitor is on.

    The first event's referrer is where the visit came from, each later one's the page
    before it (internal navigation); the landing page keeps the campaign query in its URL
    until the visitor leaves it.  ``think()`` gives the seconds between two events.
    """

    def __init__(
        self,
        generator: Generator,
        visitor: Visitor,
        start: datetime,
        referrer: str | None,
        query: str,
        think: Callable[[], float],
    ) -> None:
        visitor.sessions += 1
        self.generator = generator
        self.visitor = visitor
        self.session_id = f"s-{generator._uuid()}"
        self.first_visit = visitor.sessions == 1
        self.moment = start
        self.referrer = referrer
        self.query = query
        self.think = think
        self.page = ""  # the current page's URL, query included
        self.path = ""  # and without the query
        self.events: list[dict[str, Any]] = []

    def emit(self, name: str, url: str, product: Product | None = None, **extra: Any) -> None:
        visitor = self.visitor
        if self.events:
            self.moment += timedelta(seconds=self.think())
            if url != self.path:
                self.query = ""  # left the landing page: the campaign query stays behind
        page_url = url + self.query
        payload: dict[str, Any] = {
            "eventId": self.generator._uuid(),
            "eventName": name,
            "clientId": visitor.client_id,
            "sessionId": self.session_id,
            "isFirstVisit": self.first_visit,
            "userLoginState": "logged_in" if visitor.logged_in else "guest",
            "pageUrl": page_url,
            "referrer": self.page if self.events else self.referrer,
        }
        if visitor.logged_in:
            payload["userId"] = visitor.user_id
            payload["identity_source"] = "cognito"
        if product is not None:
            payload["product"] = product.context()
        payload.update(extra)
        payload["_ingest"] = self.generator._ingest(visitor, self.moment)
        self.events.append(payload)
        self.page, self.path = page_url, url

    def click(self, text: str, url: str) -> None:
        self.emit("click", url, element={"tag": "button", "id": slug(text), "text": text})


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
