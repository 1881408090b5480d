"""Unit tests of visitor classification (etl_classify): device type, browser, OS and
bots of real user agents; utm values, referrer host and traffic channel of page views;
bounded caches; no exception on any input; the pins that RULES_VERSION names."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from crawlerdetect import CrawlerDetect

from clickstream_etl import etl_classify as c

ROOT = Path(__file__).resolve().parents[2]
# A field the table leaves to the library (a bot's OS, a console's browser ...).
ANY = object()

# (user agent, device_type, browser_family, os_family): real user agents.
USER_AGENTS = [
    pytest.param(
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36"
        ),
        "desktop",
        "Chrome",
        "Windows",
        id="chrome-windows",
    ),
    pytest.param(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "desktop",
        "Firefox",
        "Windows",
        id="firefox-windows",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86"
        ),
        "desktop",
        "Edge",
        "Windows",
        id="edge-windows",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0"
        ),
        "desktop",
        "Opera",
        "Windows",
        id="opera-windows",
    ),
    pytest.param(
        "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:52.0) Gecko/20100101 Firefox/52.0",
        "desktop",
        "Firefox",
        "Windows",
        id="firefox-windows7",
    ),
    pytest.param(
        "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
        "desktop",
        "IE",
        "Windows",
        id="ie11-windows",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/18.1 Safari/605.1.15"
        ),
        "desktop",
        "Safari",
        "Mac OS X",
        id="safari-macos",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/131.0.0.0 Safari/537.36"
        ),
        "desktop",
        "Chrome",
        "Mac OS X",
        id="chrome-macos",
    ),
    pytest.param(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:133.0) Gecko/20100101 Firefox/133.0",
        "desktop",
        "Firefox",
        "Mac OS X",
        id="firefox-macos",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86"
        ),
        "desktop",
        "Edge",
        "Mac OS X",
        id="edge-macos",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36"
        ),
        "desktop",
        "Chrome",
        "Linux",
        id="chrome-linux",
    ),
    pytest.param(
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "desktop",
        "Firefox",
        "Ubuntu",
        id="firefox-ubuntu",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36"
        ),
        "desktop",
        "Chrome",
        "Chrome OS",
        id="chrome-chromeos",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
        ),
        "mobile",
        "Mobile Safari",
        "iOS",
        id="safari-iphone",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
        ),
        "mobile",
        "Chrome Mobile iOS",
        "iOS",
        id="chrome-iphone",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.0 EdgiOS/131.2903.68 Mobile/15E148 Safari/605.1.15"
        ),
        "mobile",
        "Edge Mobile",
        "iOS",
        id="edge-iphone",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36"
        ),
        "mobile",
        "Chrome Mobile",
        "Android",
        id="chrome-android-phone",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 13; SM-S901B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/112.0.0.0 Mobile Safari/537.36"
        ),
        "mobile",
        "Chrome Mobile",
        "Android",
        id="chrome-galaxy-s22",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like "
            "Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36"
        ),
        "mobile",
        "Samsung Internet",
        "Android",
        id="samsung-internet-phone",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8 Pro) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36"
        ),
        "mobile",
        "Chrome Mobile",
        "Android",
        id="chrome-pixel",
    ),
    pytest.param(
        "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
        "mobile",
        "Firefox Mobile",
        "Android",
        id="firefox-android-phone",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Mobile/15E148 "
            "[FBAN/FBIOS;FBAV/470.0.0.44.108;FBBV/614353735;FBDV/iPhone14,5;FBMD/iPhone;FBSN/iOS;FBSV/17.5.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/616195958]"
        ),
        "mobile",
        "Facebook",
        "iOS",
        id="facebook-iphone",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) "
            "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.144 Mobile "
            "Safari/537.36 [FB_IAB/FB4A;FBAV/445.0.0.34.118;]"
        ),
        "mobile",
        "Facebook",
        "Android",
        id="facebook-android",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Mobile/15E148 Instagram 307.0.0.34.111 (iPhone15,3; iOS "
            "17_1_2; en_US; en; scale=3.00; 1290x2796; 531428009)"
        ),
        "mobile",
        "Instagram",
        "iOS",
        id="instagram-iphone",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 12; SM-G991B Build/SP1A.210812.016; wv) "
            "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/119.0.6045.163 Mobile "
            "Safari/537.36 Instagram 311.0.0.32.118 Android (31/12; 480dpi; 1080x2177; "
            "samsung; SM-G991B; o1s; exynos2100; en_US; 545986883)"
        ),
        "mobile",
        "Instagram",
        "Android",
        id="instagram-android",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/17.7 Mobile/15E148 Safari/604.1"
        ),
        "tablet",
        "Mobile Safari",
        "iOS",
        id="safari-ipad",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1"
        ),
        "tablet",
        "Chrome Mobile iOS",
        "iOS",
        id="chrome-ipad",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X200) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36"
        ),
        "tablet",
        "Chrome",
        "Android",
        id="galaxy-tab-a9",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 12; SM-T870) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0.0.0 Safari/537.36"
        ),
        "tablet",
        "Chrome",
        "Android",
        id="galaxy-tab-s7",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 11; SAMSUNG SM-T500) AppleWebKit/537.36 (KHTML, like "
            "Gecko) SamsungBrowser/22.0 Chrome/111.0.5563.116 Safari/537.36"
        ),
        "tablet",
        "Samsung Internet",
        "Android",
        id="samsung-internet-galaxy-tab",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 11; Lenovo TB-J606F) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/120.0.0.0 Safari/537.36"
        ),
        "tablet",
        "Chrome",
        "Android",
        id="lenovo-tab-p11",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 10; Lenovo TB-X606F) AppleWebKit/537.36 (KHTML, like "
            "Gecko) Chrome/119.0.0.0 Safari/537.36"
        ),
        "tablet",
        "Chrome",
        "Android",
        id="lenovo-tab-m10",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Silk/120.3.1 like Chrome/120.0.6099.230 Safari/537.36"
        ),
        "tablet",
        "Amazon Silk",
        "Android",
        id="kindle-fire-silk",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; U; Android 4.0.3; en-us; KFTT Build/IML74K) "
            "AppleWebKit/537.36 (KHTML, like Gecko) Silk/3.68 like Chrome/39.0.2171.93 "
            "Safari/537.36"
        ),
        "tablet",
        "Amazon Silk",
        "Android",
        id="kindle-fire-hd",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (X11; U; Linux armv7l like Android; en-us) AppleWebKit/531.2+ (KHTML, "
            "like Gecko) Version/5.0 Safari/533.2+ Kindle/3.0+"
        ),
        "tablet",
        ANY,
        ANY,
        id="kindle-ereader",
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "bot",
        "Googlebot",
        ANY,
        id="googlebot-desktop",
    ),
    pytest.param(
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; "
            "+http://www.google.com/bot.html) Chrome/131.0.6778.69 Safari/537.36"
        ),
        "bot",
        ANY,
        ANY,
        id="googlebot-desktop-chrome",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
            "(KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; "
            "Googlebot/2.1; +http://www.google.com/bot.html)"
        ),
        "bot",
        "Googlebot",
        ANY,
        id="googlebot-smartphone",
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "bot",
        "bingbot",
        ANY,
        id="bingbot",
    ),
    pytest.param(
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
            "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36"
        ),
        "bot",
        ANY,
        ANY,
        id="bingbot-chrome",
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "bot",
        "AhrefsBot",
        ANY,
        id="ahrefsbot",
    ),
    pytest.param(
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
            "+https://openai.com/gptbot)"
        ),
        "bot",
        "GPTBot",
        ANY,
        id="gptbot",
    ),
    pytest.param(
        (
            "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
            "+claudebot@anthropic.com)"
        ),
        "bot",
        ANY,
        ANY,
        id="claudebot",
    ),
    pytest.param(
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "bot",
        ANY,
        ANY,
        id="facebookexternalhit",
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "bot",
        ANY,
        ANY,
        id="yandexbot",
    ),
    pytest.param(
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "bot",
        ANY,
        ANY,
        id="duckduckbot",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; "
            "+http://www.apple.com/go/applebot)"
        ),
        "bot",
        ANY,
        ANY,
        id="applebot",
    ),
    pytest.param(
        "Twitterbot/1.0",
        "bot",
        ANY,
        ANY,
        id="twitterbot",
    ),
    pytest.param(
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "bot",
        ANY,
        ANY,
        id="slackbot",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/131.0.0.0 Safari/537.36"
        ),
        "bot",
        "HeadlessChrome",
        ANY,
        id="headless-chrome",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
            "PhantomJS/2.1.1 Safari/538.1"
        ),
        "bot",
        ANY,
        ANY,
        id="phantomjs",
    ),
    pytest.param(
        "curl/8.5.0",
        "bot",
        "curl",
        ANY,
        id="curl",
    ),
    pytest.param(
        "Wget/1.21.4",
        "bot",
        "Wget",
        ANY,
        id="wget",
    ),
    pytest.param(
        "python-requests/2.32.3",
        "bot",
        "Python Requests",
        ANY,
        id="python-requests",
    ),
    pytest.param(
        "Python-urllib/3.11",
        "bot",
        ANY,
        ANY,
        id="python-urllib",
    ),
    pytest.param(
        "Python/3.11 aiohttp/3.9.1",
        "bot",
        ANY,
        ANY,
        id="aiohttp",
    ),
    pytest.param(
        "Go-http-client/1.1",
        "bot",
        "Go-http-client",
        ANY,
        id="go-http-client-1",
    ),
    pytest.param(
        "Go-http-client/2.0",
        "bot",
        ANY,
        ANY,
        id="go-http-client-2",
    ),
    pytest.param(
        "okhttp/4.12.0",
        "bot",
        ANY,
        ANY,
        id="okhttp",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/13.0 Safari/605.1.15"
        ),
        "other",
        ANY,
        ANY,
        id="playstation-5",
    ),
    pytest.param(
        (
            "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36"
        ),
        "other",
        ANY,
        ANY,
        id="samsung-smart-tv",
    ),
]


@pytest.mark.parametrize(("user_agent", "device_type", "browser", "os_family"), USER_AGENTS)
def test_classify_agent(user_agent: str, device_type: str, browser: object, os_family: object):
    agent = c.classify_agent(user_agent)
    assert agent.device_type == device_type
    assert agent.is_bot is (device_type == "bot")
    if browser is not ANY:
        assert agent.browser_family == browser
    if os_family is not ANY:
        assert agent.os_family == os_family


def test_browser_major():
    agent = c.classify_agent(USER_AGENTS[0].values[0])
    assert (agent.browser_family, agent.browser_major) == ("Chrome", "131")


@pytest.mark.parametrize("user_agent", [None, "", "   ", "\t\n"])
def test_missing_user_agent_is_other_not_bot(user_agent: str | None):
    assert c.classify_agent(user_agent) == c.Agent("other", None, None, None, False)


def test_parser_uses_the_native_accelerator():
    # Without ua-parser-rs an uncached UA costs about 0.8 ms instead of 30 us.
    assert type(c._PARSER.resolver).__module__ == "ua_parser.regex"


def _odd_strings(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - a repeatable fuzz
    return ["".join(rng.choice(ODD) for _ in range(rng.randint(0, 8))) for _ in range(count)]


def test_crawler_test_is_crawlerdetects():
    # etl_classify runs crawlerdetect's patterns on another engine: same answers.
    crawler_detect = CrawlerDetect()
    samples = [p.values[0] for p in USER_AGENTS] + _odd_strings(500, seed=5)
    samples += ["Yandex/1.0", "YandexSearch/1.0", "Mozilla/5.0 (compatible; YandexBot/3.0)"]
    differ = [ua for ua in samples if c._is_crawler(ua) != crawler_detect.is_crawler(ua)]
    assert differ == []
    assert c._is_crawler("Yandex/1.0")
    assert not c._is_crawler("YandexSearch/1.0")


def test_agent_cache_hits_and_is_bounded():
    c._classify_agent.cache_clear()
    first = c.classify_agent(USER_AGENTS[0].values[0])
    assert c.classify_agent(USER_AGENTS[0].values[0]) is first
    assert c._classify_agent.cache_info().hits == 1
    for i in range(c.AGENT_CACHE_SIZE + 50):
        c.classify_agent(f"agent-{i}")
    info = c._classify_agent.cache_info()
    assert info.maxsize == c.AGENT_CACHE_SIZE
    assert info.currsize == c.AGENT_CACHE_SIZE
    c._classify_agent.cache_clear()


def test_host_caches_are_bounded():
    for cached in (c._host, c._category):
        assert cached.cache_info().maxsize == c.HOST_CACHE_SIZE


CHANNEL = "https://shop.example/p/1"
# (page_url, referrer, referrer_host, utm values (source, medium, campaign, term,
# content), channel)
NO_UTM = (None, None, None, None, None)
SOURCES = [
    pytest.param(None, None, None, NO_UTM, "direct", id="nothing"),
    pytest.param(CHANNEL, None, None, NO_UTM, "direct", id="no-referrer"),
    pytest.param(CHANNEL, "", None, NO_UTM, "direct", id="empty-referrer"),
    pytest.param(CHANNEL + "?color=red", None, None, NO_UTM, "direct", id="query-no-utm"),
    pytest.param(
        CHANNEL + "?a=1#utm_source=google", None, None, NO_UTM, "direct", id="utm-in-fragment"
    ),
    pytest.param(
        "https://shop.example/p/2",
        "https://shop.example/p/1",
        "shop.example",
        NO_UTM,
        "internal",
        id="internal",
    ),
    pytest.param(
        "https://shop.example.evil.example/p/2",
        "https://shop.example/",
        "shop.example",
        NO_UTM,
        "referral",
        id="longer-host-is-not-internal",
    ),
    pytest.param(
        "https://Shop.Example:8443/p/2?color=red",
        "https://shop.example/p/1",
        "shop.example",
        NO_UTM,
        "internal",
        id="internal-port-case-query",
    ),
    pytest.param(
        "https://www.shop.example/p/2",
        "https://shop.example/",
        "shop.example",
        NO_UTM,
        "internal",
        id="internal-www",
    ),
    pytest.param(
        CHANNEL, "https://www.google.com/", "www.google.com", NO_UTM, "organic_search", id="google"
    ),
    pytest.param(
        CHANNEL,
        "https://www.google.co.uk/",
        "www.google.co.uk",
        NO_UTM,
        "organic_search",
        id="google-co-uk",
    ),
    pytest.param(
        CHANNEL,
        "https://www.bing.com/search?q=shoes",
        "www.bing.com",
        NO_UTM,
        "organic_search",
        id="bing",
    ),
    pytest.param(
        CHANNEL, "https://duckduckgo.com/", "duckduckgo.com", NO_UTM, "organic_search", id="ddg"
    ),
    pytest.param(
        CHANNEL,
        "https://uk.search.yahoo.com/search?p=shoes",
        "uk.search.yahoo.com",
        NO_UTM,
        "organic_search",
        id="yahoo-search",
    ),
    pytest.param(
        CHANNEL,
        "android-app://com.google.android.googlequicksearchbox/",
        "com.google.android.googlequicksearchbox",
        NO_UTM,
        "organic_search",
        id="google-app",
    ),
    pytest.param(
        CHANNEL,
        "HTTPS://WWW.Google.COM:443/",
        "www.google.com",
        NO_UTM,
        "organic_search",
        id="upper-case-port",
    ),
    pytest.param(
        CHANNEL, "www.google.com", "www.google.com", NO_UTM, "organic_search", id="bare-host"
    ),
    pytest.param(
        CHANNEL,
        "https://l.facebook.com/l.php?u=x",
        "l.facebook.com",
        NO_UTM,
        "organic_social",
        id="facebook",
    ),
    pytest.param(CHANNEL, "https://t.co/abc", "t.co", NO_UTM, "organic_social", id="t-co"),
    pytest.param(
        CHANNEL,
        "https://www.linkedin.com/feed/",
        "www.linkedin.com",
        NO_UTM,
        "organic_social",
        id="linkedin",
    ),
    pytest.param(
        CHANNEL,
        "https://m.youtube.com/watch?v=1",
        "m.youtube.com",
        NO_UTM,
        "organic_social",
        id="youtube",
    ),
    pytest.param(
        CHANNEL, "https://mail.google.com/", "mail.google.com", NO_UTM, "email", id="gmail"
    ),
    pytest.param(
        CHANNEL, "https://outlook.live.com/", "outlook.live.com", NO_UTM, "email", id="outlook"
    ),
    pytest.param(
        CHANNEL, "https://mail.yahoo.com/d/", "mail.yahoo.com", NO_UTM, "email", id="yahoo-mail"
    ),
    pytest.param(
        CHANNEL,
        "android-app://com.google.android.gm/",
        "com.google.android.gm",
        NO_UTM,
        "email",
        id="gmail-app",
    ),
    pytest.param(
        CHANNEL,
        "https://blog.example.org/post",
        "blog.example.org",
        NO_UTM,
        "referral",
        id="referral",
    ),
    pytest.param(
        CHANNEL,
        "https://docs.google.com/document/d/1",
        "docs.google.com",
        NO_UTM,
        "referral",
        id="google-docs-is-referral",
    ),
    pytest.param(
        CHANNEL + "?utm_source=google&utm_medium=cpc&utm_campaign=winter",
        None,
        None,
        ("google", "cpc", "winter", None, None),
        "paid_search",
        id="paid-search",
    ),
    pytest.param(
        CHANNEL + "?UTM_SOURCE=Google&Utm_Medium=PPC&utm_term=red%20shoes",
        "https://www.google.com/",
        "www.google.com",
        ("Google", "PPC", None, "red shoes", None),
        "paid_search",
        id="paid-search-key-case",
    ),
    pytest.param(
        CHANNEL + "?utm_source=facebook&utm_medium=paid_social&utm_campaign=c1&utm_content=ad+1",
        "https://l.facebook.com/",
        "l.facebook.com",
        ("facebook", "paid_social", "c1", None, "ad 1"),
        "paid_social",
        id="paid-social",
    ),
    pytest.param(
        CHANNEL + "?utm_source=tiktok&utm_medium=paid",
        None,
        None,
        ("tiktok", "paid", None, None, None),
        "paid_social",
        id="paid-social-tiktok",
    ),
    pytest.param(
        CHANNEL + "?utm_source=ig&utm_medium=social",
        None,
        None,
        ("ig", "social", None, None, None),
        "organic_social",
        id="organic-social-utm",
    ),
    pytest.param(
        CHANNEL + "?utm_source=bing&utm_medium=organic",
        None,
        None,
        ("bing", "organic", None, None, None),
        "organic_search",
        id="organic-search-utm",
    ),
    pytest.param(
        CHANNEL + "?utm_source=newsletter&utm_medium=email&utm_campaign=dec",
        None,
        None,
        ("newsletter", "email", "dec", None, None),
        "email",
        id="email-medium",
    ),
    pytest.param(
        CHANNEL + "?utm_source=mailchimp&utm_medium=E-Mail",
        None,
        None,
        ("mailchimp", "E-Mail", None, None, None),
        "email",
        id="email-medium-case",
    ),
    pytest.param(
        CHANNEL + "?utm_source=partner-blog&utm_medium=referral",
        "https://partner.example/",
        "partner.example",
        ("partner-blog", "referral", None, None, None),
        "referral",
        id="referral-medium",
    ),
    pytest.param(
        CHANNEL + "?utm_source=spring_fair&utm_medium=qr",
        None,
        None,
        ("spring_fair", "qr", None, None, None),
        "other",
        id="other",
    ),
    pytest.param(
        CHANNEL + "?utm_campaign=only",
        None,
        None,
        (None, None, "only", None, None),
        "other",
        id="campaign-only",
    ),
    pytest.param(
        CHANNEL + "?utm_source=(direct)&utm_medium=(none)",
        None,
        None,
        ("(direct)", "(none)", None, None, None),
        "direct",
        id="utm-direct",
    ),
    pytest.param(
        CHANNEL + "?utm_source=%20%20&utm_medium=&utm_campaign=+x+&utm_term",
        None,
        None,
        (None, None, "x", None, None),
        "other",
        id="blank-values-trimmed",
    ),
    pytest.param(
        CHANNEL + "?utm_source=google&utm_source=bing&utm_medium=cpc",
        None,
        None,
        ("google", "cpc", None, None, None),
        "paid_search",
        id="first-value-wins",
    ),
    pytest.param(
        "https://shop.example/p/2?utm_source=shop&utm_medium=banner",
        "https://shop.example/",
        "shop.example",
        ("shop", "banner", None, None, None),
        "other",
        id="utm-beats-internal",
    ),
    pytest.param(
        "http://[bad/?utm_source=google&utm_medium=cpc",
        None,
        None,
        ("google", "cpc", None, None, None),
        "paid_search",
        id="malformed-page-url",
    ),
    pytest.param(CHANNEL, "http://[::1", None, NO_UTM, "direct", id="malformed-referrer"),
    pytest.param("not a url", "::::", None, NO_UTM, "direct", id="garbage"),
    pytest.param(CHANNEL, "javascript:void(0)", None, NO_UTM, "direct", id="no-host-scheme"),
    pytest.param(
        CHANNEL, "http://exa mple.com/", None, NO_UTM, "direct", id="space-in-referrer-host"
    ),
    pytest.param(
        "?utm_source=%E2%9C%93%ZZ&utm_medium=cpc",
        "   ",
        None,
        ("\u2713%ZZ", "cpc", None, None, None),
        "other",
        id="bad-percent-escape",
    ),
]


@pytest.mark.parametrize(("page_url", "referrer", "host", "utm", "channel"), SOURCES)
def test_classify_source(
    page_url: str | None,
    referrer: str | None,
    host: str | None,
    utm: tuple[str | None, ...],
    channel: str,
):
    assert c.classify_source(page_url, referrer) == c.Source(host, *utm, channel)


def test_every_channel_is_covered():
    assert {p.values[-1] for p in SOURCES} == set(c.TRAFFIC_CHANNELS)


def test_utm_values_are_cut():
    source = c.classify_source(CHANNEL + "?utm_campaign=" + "x" * 1000, None)
    assert source.utm_campaign == "x" * c.MAX_UTM_CHARS


ODD = [
    "",
    " ",
    "?",
    "&",
    "=",
    "#",
    "%",
    "%%",
    "%zz",
    "[",
    "]",
    "://",
    "//",
    ":",
    "@",
    "\x00",
    "\ufffd",
    "\u00e9",
    "\U0001f600",
    "utm_source",
    "UTM_MEDIUM=",
    "http",
    "www.",
    "google",
    ".",
    "..",
    "Mozilla/5.0 (",
    "bot",
    ";",
    "\n",
    "\\",
    "x" * 300,
]


def test_never_raises_on_odd_strings():
    for page_url, referrer in zip(
        _odd_strings(3000, seed=17), _odd_strings(3000, seed=18), strict=True
    ):
        source = c.classify_source(page_url, referrer)
        assert source.traffic_channel in c.TRAFFIC_CHANNELS
        assert source.referrer_host is None or source.referrer_host == source.referrer_host.lower()
        agent = c.classify_agent(page_url + referrer)
        assert agent.device_type in c.DEVICE_TYPES
        assert agent.is_bot is (agent.device_type == "bot")


@pytest.mark.parametrize("value", [123, 4.5, b"curl/8.5.0", ["x"], {"a": 1}, True])
def test_non_strings_are_missing(value: object):
    assert c.classify_agent(value) == c.UNKNOWN_AGENT  # type: ignore[arg-type]
    assert c.classify_source(value, value) == c.DIRECT  # type: ignore[arg-type]


def test_very_long_user_agent():
    agent = c.classify_agent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) " + "A" * 100_000)
    assert agent.device_type == "desktop"


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            pins[match[1].lower()] = match[2]
    return pins


def test_rules_version_names_the_lambda_pins():
    # The Lambda's requirements are what classifies loaded rows; requirements-dev.txt
    # pins the same so that these tests run the same rules; RULES_VERSION names them
    # (the accelerator is left out: it gives the same results, only faster).
    lambda_pins = _pins(ROOT / "src" / "clickstream_etl" / "requirements.txt")
    dev_pins = _pins(ROOT / "requirements-dev.txt")
    for name in ("ua-parser", "ua-parser-builtins", "ua-parser-rs", "crawlerdetect"):
        assert dev_pins[name] == lambda_pins[name]
        if name != "ua-parser-rs":
            assert f"{name} {lambda_pins[name]};" in c.RULES_VERSION
    assert c.RULES_VERSION.endswith(f"etl_classify {c.RULES_REVISION}")


def test_the_sites_own_bot_rules_apply_and_can_be_taken_back() -> None:
    monitor = "SiteCheck-Monitor/3.1 (+https://status.example.org)"
    before = c.classify_agent(monitor)
    assert before.is_bot is False
    try:
        c.set_extra_bot_agents(("sitecheck-monitor",))
        assert c.classify_agent(monitor) == before._replace(device_type="bot", is_bot=True)
    finally:
        c.set_extra_bot_agents(())
    assert c.classify_agent(monitor) == before
