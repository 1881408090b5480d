"""Visitor classification micro-benchmark (etl_classify): µs per call and cache hit rate.

    .venv/bin/python benchmarks/classify_bench.py [--events 100000] [--agents 400]
                                                  [--rounds 5] [--imports 3]

Prints figures only, each next to a baseline measured in the same run:

* ``classify_agent`` on a cache hit (a repeated UA), against a plain ``dict.get``;
* ``classify_agent`` uncached (the function under the cache) on ``--agents`` distinct
  real-shaped user agents (browsers on each OS in many versions, in-app browsers,
  crawlers, HTTP libraries), with its two parts: ua-parser's parse and the crawler
  test; against crawlerdetect's own ``CrawlerDetect`` test, which etl_classify runs on
  another engine; then the same on junk user agents (random characters, 200 and 1,000
  long) where crawlerdetect's own test is slowest;
* a traffic mix of ``--events`` events over those agents, Zipf-distributed (a few
  browsers make most events): µs per event with every miss paid, and the cache's hit
  rate from an empty cache;
* ``classify_source`` on a realistic mix of page views (internal navigation, direct
  landings, search, social, referral, utm-tagged campaigns) and on the fast path (no
  query, no referrer), against ``urllib.parse.urlsplit`` of the page URL;
* the import of etl_classify in a fresh interpreter (the Lambda's cold start pays it),
  against importing ua-parser alone.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from crawlerdetect import CrawlerDetect

from clickstream_etl import etl_classify

DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.2903.86",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{s}.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
)
HANDHELD = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS {s}_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/{s}.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android {a}; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android {a}; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/{s}.0 Chrome/{v}.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS {s}_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{s}.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android {a}; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS {s}_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/{v}.0.0.44.108;FBBV/614353735;"
    "FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/{s}.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]",
)
AUTOMATED = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/{v}.0.6778.69 Mobile Safari/537.36 "
    "(compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/{v}.0.0.0 Safari/537.36",
    "curl/8.{a}.0",
    "python-requests/2.{v}.0",
    "Go-http-client/1.1",
)
SITE = "https://shop.example"


def user_agents(count: int) -> list[str]:
    """``count`` distinct user agents: browsers in many versions, then bots and tools."""
    agents: dict[str, None] = {}
    templates = DESKTOP + HANDHELD + AUTOMATED
    version = 0
    while len(agents) < count:
        for template in templates:
            v = 131 - version % 60
            agents[template.format(v=v, s=18 - version % 8, a=14 - version % 6)] = None
        version += 1
    return list(agents)[:count]


def junk_agents(count: int, length: int, rng: random.Random) -> list[str]:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 /;()._-"
    return ["".join(rng.choice(alphabet) for _ in range(length)) for _ in range(count)]


def zipf_mix(items: Sequence[str], events: int, rng: random.Random) -> list[str]:
    weights = [1 / (rank + 1) for rank in range(len(items))]
    return rng.choices(items, weights=weights, k=events)


def page_views(count: int, rng: random.Random) -> list[tuple[str, str | None]]:
    """(page_url, referrer) in the proportions of a shop's traffic."""
    views: list[tuple[str, str | None]] = []
    for i in range(count):
        page = f"{SITE}/p/sku-{rng.randrange(5000)}"
        kind = rng.random()
        if kind < 0.45:  # navigation inside the site
            views.append((page, f"{SITE}/c/category-{i % 40}"))
        elif kind < 0.60:  # a landing with no referrer
            views.append((page, None))
        elif kind < 0.75:
            views.append((page, rng.choice(("https://www.google.com/", "https://www.bing.com/"))))
        elif kind < 0.80:
            views.append((page, "https://l.facebook.com/l.php?u=x"))
        elif kind < 0.85:
            views.append((page, f"https://blog-{i % 30}.example.org/post/{i % 7}"))
        elif kind < 0.95:  # a tagged campaign landing
            views.append(
                (
                    f"{page}?utm_source=google&utm_medium=cpc&utm_campaign=winter-{i % 9}"
                    f"&utm_term=shoes&gclid=Cj0KCQiA{i:08d}",
                    "https://www.google.com/",
                )
            )
        else:  # a filter query inside the site
            views.append((f"{page}?color=red&size={i % 12}", f"{SITE}/c/category-{i % 40}"))
    return views


def per_call_us(function: Callable[[], object], calls: int, rounds: int) -> float:
    """Median over rounds of the mean time of one call, in microseconds."""
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            function()
        results.append((time.perf_counter() - started) / calls * 1e6)
    return statistics.median(results)


def over(function: Callable[[str], object], items: Sequence[str], rounds: int) -> float:
    """µs per item of ``function`` over ``items`` (median of rounds)."""
    results = []
    for _ in range(rounds):
        started = time.perf_counter()
        for item in items:
            function(item)
        results.append((time.perf_counter() - started) / len(items) * 1e6)
    return statistics.median(results)


def import_ms(statement: str, repetitions: int) -> float:
    code = (
        f"import time\nt = time.perf_counter()\n{statement}\nprint((time.perf_counter() - t) * 1e3)"
    )
    runs = [
        float(
            subprocess.run(  # noqa: S603 - our own interpreter and code
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(repetitions)
    ]
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the traffic mix")
    parser.add_argument("--agents", type=int, default=400, help="distinct user agents")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds (median)")
    parser.add_argument("--imports", type=int, default=3, help="fresh interpreters per figure")
    args = parser.parse_args()
    rng = random.Random(17)  # noqa: S311 - repeatable test data
    agents = user_agents(args.agents)
    uncached = etl_classify._classify_agent.__wrapped__
    crawler_detect = CrawlerDetect()

    print(f"python {sys.version.split()[0]}  {etl_classify.RULES_VERSION}")
    print()
    print(f"classify_agent, µs per call (median of {args.rounds} rounds)")
    print(f"  {'case':<52} {'µs':>9}")
    rows: list[tuple[str, float]] = []
    etl_classify.classify_agent(agents[0])
    table = {agents[0]: etl_classify.classify_agent(agents[0])}
    rows.append(
        (
            "cached UA (a hit)",
            per_call_us(lambda: etl_classify.classify_agent(agents[0]), 100_000, args.rounds),
        )
    )
    rows.append(("  baseline: dict.get", per_call_us(lambda: table.get(agents[0]), 100_000, 5)))
    rows.append((f"uncached UA ({len(agents)} distinct real-shaped)", over(uncached, agents, 3)))
    rows.append(("  of which ua-parser's parse", over(etl_classify._PARSER.parse, agents, 3)))
    rows.append(("  of which the crawler test", over(etl_classify._is_crawler, agents, 3)))
    rows.append(
        ("  baseline: CrawlerDetect's own test", over(crawler_detect._check_crawler, agents, 1))
    )
    for length in (200, 1000):
        junk = junk_agents(20, length, rng)
        rows.append((f"uncached junk UA, {length} characters", over(uncached, junk, 1)))
        rows.append(
            ("  baseline: CrawlerDetect's own test", over(crawler_detect._check_crawler, junk, 1))
        )
    for label, figure in rows:
        print(f"  {label:<52} {figure:>9.1f}")

    mix = zipf_mix(agents, args.events, rng)
    etl_classify._classify_agent.cache_clear()
    started = time.perf_counter()
    for agent in mix:
        etl_classify.classify_agent(agent)
    mix_us = (time.perf_counter() - started) / len(mix) * 1e6
    info = etl_classify._classify_agent.cache_info()
    print()
    print(
        f"traffic mix: {len(mix)} events over {len(set(mix))} distinct UAs (Zipf), empty cache "
        f"of {info.maxsize}"
    )
    print(f"  µs per event, misses included  {mix_us:.2f}")
    print(f"  cache hit rate                 {info.hits / (info.hits + info.misses):.2%}")

    views = page_views(args.events, rng)
    direct = [(f"{SITE}/p/sku-{i % 5000}", None) for i in range(args.events)]
    print()
    print(f"classify_source, µs per call (median of {args.rounds} rounds)")
    print(f"  {'case':<52} {'µs':>9}")
    for label, items in (("realistic mix", views), ("fast path: no query, no referrer", direct)):
        figure = statistics.median(
            _time_pairs(etl_classify.classify_source, items) for _ in range(args.rounds)
        )
        print(f"  {label:<52} {figure:>9.2f}")
    baseline = statistics.median(
        _time_pairs(lambda page, _referrer: urlsplit(page), views) for _ in range(args.rounds)
    )
    print(f"  {'  baseline: urlsplit(page_url) of the mix':<52} {baseline:>9.2f}")
    channels: dict[str, int] = {}
    for page, referrer in views:
        channel = etl_classify.classify_source(page, referrer).traffic_channel
        channels[channel] = channels.get(channel, 0) + 1
    print("  the mix's channels: " + ", ".join(f"{k} {v}" for k, v in sorted(channels.items())))

    print()
    print(f"import in a fresh interpreter, ms (median of {args.imports})")
    for label, statement in (
        ("import etl_classify (parsers built)", "from clickstream_etl import etl_classify"),
        ("  baseline: import ua_parser", "import ua_parser"),
    ):
        print(f"  {label:<52} {import_ms(statement, args.imports):>9.1f}")
    return 0


def _time_pairs(
    function: Callable[[str, str | None], object], items: Sequence[tuple[str, str | None]]
) -> float:
    started = time.perf_counter()
    for page, referrer in items:
        function(page, referrer)
    return (time.perf_counter() - started) / len(items) * 1e6


if __name__ == "__main__":
    sys.exit(main())
