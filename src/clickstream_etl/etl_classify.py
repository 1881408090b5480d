"""Classify who a clickstream event's visitor is: device, browser, OS and bots from the
user agent; traffic source and channel from the page URL and the referrer.

Pure functions, no I/O; the transform calls them once per event.

* ``classify_agent(user_agent)`` -> ``Agent``: browser, OS and device from ua-parser
  (uap-core's rules, ``ua-parser-builtins``, run by the ``ua-parser-rs`` accelerator),
  bots from ua-parser's ``Spider`` device or from crawlerdetect's patterns (crawlers,
  headless browsers, HTTP libraries), run by the same native engine.  The device type
  is read from what ua-parser found (see ``_device_type``).  Cached by UA string: real
  traffic has a few hundred distinct ones.
* ``classify_source(page_url, referrer)`` -> ``Source``: the ``utm_*`` parameters of
  the page URL, the referrer's host, and a channel in the shape of GA4's default
  channel groups (rules in order of precedence in ``_channel`` and in the README's
  "Visitor classification").
* ``RULES_VERSION`` names the libraries' versions and this module's rule revision;
  a row classified under another one may classify differently today.

Neither function raises, whatever string (or non-string) it is given.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.metadata import version
from typing import NamedTuple
from urllib.parse import unquote_plus, urlsplit

import ua_parser
import ua_parser_rs
from crawlerdetect.providers.crawlers import data as crawler_patterns
from crawlerdetect.providers.exclusions import data as exclusion_patterns

# Bump when a rule of this module changes (device mapping, host lists, channel rules).
RULES_REVISION = "1"
RULES_VERSION = (
    f"ua-parser {version('ua-parser')}; ua-parser-builtins {version('ua-parser-builtins')}; "
    f"crawlerdetect {version('crawlerdetect')}; etl_classify {RULES_REVISION}"
)

DEVICE_TYPES = ("desktop", "mobile", "tablet", "bot", "other")
TRAFFIC_CHANNELS = (
    "direct",
    "organic_search",
    "paid_search",
    "organic_social",
    "paid_social",
    "email",
    "referral",
    "internal",
    "other",
)
# Distinct user agents, referrers and referrer hosts remembered (each cache); an entry
# is a few hundred bytes.
AGENT_CACHE_SIZE = 4096
HOST_CACHE_SIZE = 4096
# Only this much of a user agent is parsed (real ones are under 500 characters).
MAX_USER_AGENT_CHARS = 1024
# A utm value is trimmed and cut to this many characters.
MAX_UTM_CHARS = 256


class Agent(NamedTuple):
    """What the user agent says: the device type, browser and OS families, a bot."""

    device_type: str
    browser_family: str | None
    browser_major: str | None
    os_family: str | None
    is_bot: bool


class Source(NamedTuple):
    """Where the visit came from: referrer host, utm parameters, channel."""

    referrer_host: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None
    traffic_channel: str


UNKNOWN_AGENT = Agent("other", None, None, None, False)
DIRECT = Source(None, None, None, None, None, None, "direct")

_PARSER = ua_parser.Parser(ua_parser.BestAvailableResolver(ua_parser.load_lazy_builtins()))

_LOOK_AROUND = re.compile(r"\(\?<?[=!]")


def _native_matcher(patterns: list[str]) -> ua_parser_rs.DeviceExtractor:
    return ua_parser_rs.DeviceExtractor([(p, "i", "bot", None, None) for p in patterns])


def _compiles_natively(pattern: str) -> bool:
    try:
        _native_matcher([pattern])
    except Exception:
        return False
    return True


class _Crawlers:
    """crawlerdetect's test, as ``CrawlerDetect.is_crawler`` makes it: remove the
    exclusions (browser tokens), then any crawler pattern found (case-insensitive) is a
    bot.  crawlerdetect runs its 1,460 patterns as one alternation in Python's ``re``,
    about 25 us per character left after the exclusions (0.5-0.8 ms for a real UA, up
    to 200 ms for 1,000 characters of junk); here ua-parser-rs's linear-time engine runs them
    (30 us), and Python's ``re`` only the patterns it cannot compile (look-arounds).
    tests/etl/test_classify.py holds the result to CrawlerDetect's own.
    """

    def __init__(self) -> None:
        python = [p for p in crawler_patterns if _LOOK_AROUND.search(p)]
        native = [p for p in crawler_patterns if not _LOOK_AROUND.search(p)]
        try:
            self.native = _native_matcher(native)
        except Exception:  # another syntax the engine lacks: find it pattern by pattern
            python += [p for p in native if not _compiles_natively(p)]
            native = [p for p in native if p not in python]
            self.native = _native_matcher(native)
        self.python = re.compile("|".join(python), re.IGNORECASE) if python else None
        self.exclusions = re.compile("|".join(exclusion_patterns), re.IGNORECASE)

    def __call__(self, user_agent: str) -> bool:
        agent = self.exclusions.sub("", user_agent)
        if not agent:
            return False
        if self.native.extract(agent) is not None:
            return True
        return self.python is not None and self.python.search(agent) is not None


_is_crawler = _Crawlers()

# ua-parser's device families and brands that are tablets.
_TABLET_DEVICE_FAMILIES = frozenset({"iPad", "Kindle", "Generic Tablet"})
_TABLET_DEVICE_BRANDS = frozenset({"Generic_Android_Tablet"})
# ua-parser's OS families of phones and tablets: a tablet when the UA has no "Mobi"
# token (Android's own convention), else a phone.
_MOBILE_OS_FAMILIES = frozenset(
    {
        "iOS",
        "Android",
        "Fire OS",
        "Windows Phone",
        "Windows Mobile",
        "BlackBerry OS",
        "BlackBerry Tablet OS",
        "KaiOS",
        "Firefox OS",
        "HarmonyOS",
        "Symbian OS",
        "Symbian^3",
        "Sailfish",
        "Ubuntu Touch",
        "webOS",
        "Bada",
    }
)
_TABLET_OS_FAMILIES = frozenset({"BlackBerry Tablet OS"})
# ua-parser's OS families of desktops (any "Windows ..." not in the set above too).
_DESKTOP_OS_FAMILIES = frozenset(
    {
        "Mac OS X",
        "Mac OS",
        "macOS",
        "Linux",
        "Ubuntu",
        "Debian",
        "Fedora",
        "Red Hat",
        "CentOS",
        "Linux Mint",
        "Mint",
        "Arch Linux",
        "Gentoo",
        "Slackware",
        "openSUSE",
        "SUSE",
        "Mandriva",
        "Kubuntu",
        "Xubuntu",
        "Chrome OS",
        "ChromeOS",
        "FreeBSD",
        "OpenBSD",
        "NetBSD",
        "Solaris",
    }
)


# The site's own bot rules (ETL_EXTRA_BOT_AGENTS): lower-case user-agent substrings.
_extra_bot_agents: tuple[str, ...] = ()


def set_extra_bot_agents(agents: tuple[str, ...]) -> None:
    """Make user agents holding one of ``agents`` (lower-case substrings) bots, beyond
    the libraries' rules; the cache of user agents is emptied when the rules change."""
    global _extra_bot_agents
    if agents != _extra_bot_agents:
        _extra_bot_agents = agents
        _classify_agent.cache_clear()


def classify_agent(user_agent: str | None) -> Agent:
    """The device type, browser, OS and bot flag of a user agent.

    None, a non-string or a blank string is ``UNKNOWN_AGENT`` ("other", not a bot).
    Results are cached per UA string in a bounded LRU cache (``AGENT_CACHE_SIZE``).
    """
    if not user_agent or not isinstance(user_agent, str):
        return UNKNOWN_AGENT
    return _classify_agent(user_agent)


@lru_cache(maxsize=AGENT_CACHE_SIZE)
def _classify_agent(user_agent: str) -> Agent:
    ua = user_agent.strip()[:MAX_USER_AGENT_CHARS]
    if not ua:
        return UNKNOWN_AGENT
    try:
        result = _PARSER.parse(ua)
        device = result.device
        device_family = device.family if device else None
        bot = (
            device_family == "Spider"
            or _is_crawler(ua)
            or any(agent in ua.lower() for agent in _extra_bot_agents)
        )
    except Exception:  # a library bug must not stop a load: the UA stays unclassified
        return UNKNOWN_AGENT
    browser = result.user_agent
    os_family = result.os.family if result.os else None
    device_brand = device.brand if device else None
    device_type = "bot" if bot else _device_type(ua, os_family, device_family, device_brand)
    return Agent(
        device_type=device_type,
        browser_family=browser.family if browser else None,
        browser_major=browser.major if browser else None,
        os_family=os_family,
        is_bot=device_type == "bot",
    )


def _device_type(
    ua: str, os_family: str | None, device_family: str | None, device_brand: str | None
) -> str:
    """Desktop, mobile, tablet or other, from ua-parser's OS and device of a non-bot.

    In order: a tablet device of ua-parser (iPad, Kindle, an Android tablet) -> tablet;
    a TV -> other; a phone or tablet OS -> tablet without a "Mobi" token in the UA
    (Android tablets, Fire OS; Chrome's and Mozilla's convention), else mobile;
    a desktop OS (Windows, macOS, Linux distributions, ChromeOS, BSDs) -> desktop;
    anything else (consoles, TVs, unknown) -> other.
    """
    if device_family is not None:
        if device_family in _TABLET_DEVICE_FAMILIES or device_family.startswith("Kindle"):
            return "tablet"
        if device_brand in _TABLET_DEVICE_BRANDS:
            return "tablet"
        if "TV" in device_family:
            return "other"
    if os_family is None:
        return "other"
    if os_family in _MOBILE_OS_FAMILIES:
        if os_family in _TABLET_OS_FAMILIES or ("Mobi" not in ua and "iPhone" not in ua):
            return "tablet" if "TV" not in ua else "other"
        return "mobile"
    if os_family in _DESKTOP_OS_FAMILIES or os_family.startswith("Windows"):
        return "desktop"
    if os_family == "Kindle":
        return "tablet"
    return "other"


# Referrer hosts and utm_source values, by what they are.  A host is matched by its
# name (the label before the public suffix: "google" in www.google.co.uk), a utm_source
# by itself or, when it has a dot, as a host.  GA4's source categories, shortened to
# the sources that send traffic in practice.
_SEARCH_NAMES = frozenset(
    {
        "google",
        "bing",
        "duckduckgo",
        "yahoo",
        "baidu",
        "yandex",
        "ya",
        "ecosia",
        "qwant",
        "startpage",
        "brave",
        "naver",
        "seznam",
        "sogou",
        "ask",
        "aol",
        "daum",
        "kagi",
        "mojeek",
        "so",
        "360",
        "msn",
    }
)
# A search engine's host is search only under these subdomains (docs.google.com is not).
_SEARCH_SUBDOMAINS = frozenset({"", "www", "m", "search", "images", "cn", "html", "lite", "news"})
_SOCIAL_NAMES = frozenset(
    {
        "facebook",
        "instagram",
        "tiktok",
        "twitter",
        "linkedin",
        "pinterest",
        "reddit",
        "youtube",
        "snapchat",
        "threads",
        "whatsapp",
        "telegram",
        "tumblr",
        "quora",
        "vk",
        "weibo",
        "discord",
        "messenger",
        "bsky",
        "mastodon",
        "xing",
        "line",
        "wechat",
        "douyin",
        "nextdoor",
    }
)
# Hosts and sources that no name rule catches (link shorteners, apps, webmail).
_HOST_CATEGORIES = {
    "t.co": "social",
    "x.com": "social",
    "lnkd.in": "social",
    "fb.me": "social",
    "youtu.be": "social",
    "pin.it": "social",
    "redd.it": "social",
    "t.me": "social",
    "ig.me": "social",
    "bsky.app": "social",
    "com.facebook.katana": "social",
    "com.instagram.android": "social",
    "com.linkedin.android": "social",
    "com.google.android.googlequicksearchbox": "search",
    "com.google.android.gm": "email",
    "mail.google.com": "email",
    "outlook.live.com": "email",
    "outlook.office.com": "email",
    "outlook.office365.com": "email",
    "mail.yahoo.com": "email",
    "mail.aol.com": "email",
    "mail.proton.me": "email",
    "app.fastmail.com": "email",
    "fb": "social",
    "ig": "social",
    "yt": "social",
    "x": "social",
    "tw": "social",
}
# First labels of webmail hosts (mail.example.com, webmail.example.net).
_EMAIL_FIRST_LABELS = frozenset({"mail", "webmail", "email", "mail2", "owa"})
# Second-level labels of two-label public suffixes (co.uk, com.au, ne.jp ...).
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "edu", "ne", "or", "go"})

# What a host may hold: letters (any script), digits, "-", "_", "." and an IPv6 ":".
_HOST = re.compile(r"[\w.:-]+")
# scheme://[user@]host[:port] then the path, query, fragment or the end.
_URL_HOST = re.compile(
    r"\s*[A-Za-z][A-Za-z0-9+.-]*://(?:[^/?#@\[]*@)?([\w.-]+)(?::\d*)?(?=[/?#]|\s*$)"
)
# A utm key (any case) at the start of a query parameter, and its raw value; the
# literal start keeps the search fast.
_UTM_PAIR = re.compile(r"(?<![^&])utm_([a-z]+)=([^&]*)", re.IGNORECASE)
_HOST_ENDS = frozenset({"", "/", "?", "#", ":"})
_NO_UTM: tuple[str | None, ...] = (None,) * 5
_PAID_MEDIUM = re.compile(r"^(.*cp.*|ppc|retargeting|paid.*)$")
_EMAIL = re.compile(r"email|e-mail|e_mail|e mail")
_SOCIAL_MEDIA = frozenset(
    {"social", "social-network", "social-media", "sm", "social network", "social media"}
)
_REFERRAL_MEDIA = frozenset({"referral", "app", "link"})
_NONE_MEDIA = frozenset({"(none)", "(not set)"})


def classify_source(page_url: str | None, referrer: str | None) -> Source:
    """The referrer host, utm parameters and traffic channel of a page view.

    ``utm_*`` keys are read case-insensitively from the page URL's query (the first of
    each wins), values percent-decoded and trimmed (empty -> None, cut to
    ``MAX_UTM_CHARS``).  ``referrer_host`` is the referrer's lower-case host as sent
    (``www.`` kept, port and trailing dot dropped); None when there is no referrer or
    it has no host.  A malformed URL yields None fields, never an exception.
    """
    if not isinstance(page_url, str):
        page_url = ""
    if not isinstance(referrer, str):
        referrer = ""
    if "?" not in page_url and not referrer:
        return DIRECT
    utm = _utm(page_url)
    referrer_host = _host(referrer) if referrer else None
    channel = _channel(page_url, referrer_host, utm)
    return Source._make((referrer_host, *utm, channel))


def _utm(page_url: str) -> tuple[str | None, ...]:
    """The five utm values of a page URL's query: source, medium, campaign, term, content."""
    start = page_url.find("?")
    if start < 0:
        return _NO_UTM
    query = page_url[start + 1 :].partition("#")[0]
    if "_" not in query:
        return _NO_UTM
    values: dict[str, str | None] = {}
    for key, raw in _UTM_PAIR.findall(query):
        key = key.lower()
        if key in values:
            continue
        if "%" in raw or "+" in raw:
            # a decoded NUL (%00) could not be stored by PostgreSQL: it is dropped
            raw = unquote_plus(raw).replace("\x00", "")
        values[key] = raw.strip()[:MAX_UTM_CHARS].strip() or None
    if not values:
        return _NO_UTM
    get = values.get
    return (get("source"), get("medium"), get("campaign"), get("term"), get("content"))


@lru_cache(maxsize=HOST_CACHE_SIZE)
def _host(url: str) -> str | None:
    """The lower-case host of a URL (a bare ``host/path`` too), or None.

    ``scheme://[user@]host[:port]`` is read by one regular expression (a third of
    ``urlsplit``'s cost); anything else (IPv6 brackets, no ``://``) by ``urlsplit``.
    """
    match = _URL_HOST.match(url)
    if match is not None:
        host = match[1]
    else:
        text = url.strip()
        if not text:
            return None
        if "//" not in text:
            # A bare host[:port][/path]; "mailto:x@y" or "javascript:..." has no host.
            head = text.partition("/")[0]
            if ":" in head and not head.rpartition(":")[2].isdigit():
                return None
            text = "//" + text
        try:
            host = urlsplit(text).hostname or ""
        except ValueError:
            return None
    host = host.rstrip(".").lower()
    if not host or not _HOST.fullmatch(host):
        return None
    return host


@lru_cache(maxsize=HOST_CACHE_SIZE)
def _category(source: str) -> str | None:
    """The category of a referrer host or a utm_source: search, social, email or None."""
    name = source.strip().lower().rstrip(".")
    if name.startswith("www."):
        name = name[4:]
    if name in _HOST_CATEGORIES:
        return _HOST_CATEGORIES[name]
    labels = name.split(".")
    if len(labels) == 1:
        if name in _SEARCH_NAMES:
            return "search"
        if name in _SOCIAL_NAMES:
            return "social"
        return None
    if labels[0] in _EMAIL_FIRST_LABELS and len(labels) > 2:
        return "email"
    # Reverse-domain app ids (android-app://com.facebook.katana) name the app second.
    if labels[0] in {"com", "org"} and len(labels) > 2:
        site, subdomain = labels[1], ""
    else:
        cut = -3 if len(labels) > 2 and labels[-2] in _SECOND_LEVEL else -2
        site = labels[cut] if len(labels) >= -cut else labels[0]
        subdomain = ".".join(labels[:cut])
    if site in _SOCIAL_NAMES:
        return "social"
    if site in _SEARCH_NAMES and subdomain.rpartition(".")[2] in _SEARCH_SUBDOMAINS:
        return "search"
    return None


def _same_site(page_url: str, referrer_host: str) -> bool:
    """Whether the page's host is the referrer's, ignoring a leading ``www.``."""
    site = referrer_host.removeprefix("www.")
    start = page_url.find("://") + 3
    if start >= 3:
        # The common case, read without parsing: scheme://[www.]host then / ? # : or end.
        rest = page_url[start : start + len(site) + 5].lower().removeprefix("www.")
        if rest.startswith(site) and rest[len(site) : len(site) + 1] in _HOST_ENDS:
            return True
        if "@" not in page_url and "[" not in page_url:
            return False
    page_host = _host(page_url)
    return page_host is not None and page_host.removeprefix("www.") == site


def _channel(page_url: str, referrer_host: str | None, utm: tuple[str | None, ...]) -> str:
    """The traffic channel; the rules in order of precedence:

    1. no utm value: no referrer host -> direct; the referrer's host is the page's
       (ignoring a leading ``www.``) -> internal; a search engine -> organic_search;
       a social site -> organic_social; a webmail host -> email; any other -> referral.
    2. utm_source "(direct)" with no medium (or "(none)"/"(not set)") -> direct.
    3. source or medium matching email|e-mail|e_mail|e mail, or a webmail source -> email.
    4. a search source with a paid medium (^(.*cp.*|ppc|retargeting|paid.*)$) ->
       paid_search; a social source with one -> paid_social.
    5. a search source or medium "organic" -> organic_search.
    6. a social source or a social medium (social, social-network, sm ...) ->
       organic_social.
    7. medium referral/app/link -> referral.
    8. anything else -> other.

    The source is utm_source, or the referrer's host when there is no utm_source.
    """
    source, medium = utm[0], utm[1]
    if not any(utm):
        if referrer_host is None:
            return "direct"
        if _same_site(page_url, referrer_host):
            return "internal"
        category = _category(referrer_host)
        if category == "search":
            return "organic_search"
        if category == "social":
            return "organic_social"
        if category == "email":
            return "email"
        return "referral"
    medium = medium.lower() if medium else ""
    if source is not None and source.lower() == "(direct)" and medium in {"", *_NONE_MEDIA}:
        return "direct"
    origin = source if source is not None else referrer_host
    category = _category(origin) if origin else None
    if category == "email" or _EMAIL.search(medium) or (source and _EMAIL.search(source.lower())):
        return "email"
    paid = _PAID_MEDIUM.match(medium) is not None
    if category == "search":
        return "paid_search" if paid else "organic_search"
    if category == "social":
        return "paid_social" if paid else "organic_social"
    if medium == "organic":
        return "organic_search"
    if medium in _SOCIAL_MEDIA:
        return "organic_social"
    if medium in _REFERRAL_MEDIA:
        return "referral"
    return "other"
