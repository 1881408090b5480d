"""The dashboards' figures computed from the raw events table, independently of the ETL.

The dashboards read the rollups the ETL maintains (roles/shiny/files/app/sql/); the
queries here compute the same figures from ``public.clickstream_events`` alone, in a
different way where they can (the strict funnel by pattern matching each session's
step sequence, sessions by grouping their events).  The browser test checks the
dashboards against them; the benchmark times them as the baseline.

Parameters (psycopg2): ``%(first)s`` and ``%(last)s``, the first and last UTC day;
``%(bots)s``, the dashboards' "Include bots" switch (see :func:`params`).
Sessions are the events' ``sessionId`` (every generated event has one); a session
belongs to the day or hour of its first event, wherever its other events fall
(within a day of the range: sessions are shorter than a day).

Bots (migration 0008), read from the events' own classification: an event is a bot's
when its user agent is (``is_bot``); a session is a bot when one of its events is, or
by its behaviour (more than ``BOT_EVENTS_PER_SECOND`` events within one second of the
clock, or no page at all).  Without bots, figures of events leave out bots' events and
figures of sessions bots' sessions; with them, everything counts, and a visitor counts
once per class (a visitor with a bot's session and a person's counts twice, as the
dashboards add the classes).  Event units (the funnel's, the paths', the next steps')
are split by their events' verdict, as the event rollups are.  A session's source and
technology are its first event's: channel (``direct`` when unknown), utm_source else
the referrer's host else ``(direct)``, utm_medium else what the channel implies,
utm_campaign else ``(not set)``; device (``other`` when unknown), browser and OS
(``(unknown)``).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

from clickstream_etl.etl_rollups import BOT_EVENTS_PER_SECOND

RANGE = """
range AS (
    SELECT %(first)s::date::timestamp AT TIME ZONE 'UTC' AS lo,
           (%(last)s::date + 1)::timestamp AT TIME ZONE 'UTC' AS hi
)"""

# The range and the period of the same length just before it: lo .. mid .. hi.
RANGE_AND_PREVIOUS = """
range AS (
    SELECT (%(first)s::date - (%(last)s::date - %(first)s::date + 1))::timestamp
               AT TIME ZONE 'UTC' AS lo,
           %(first)s::date::timestamp AT TIME ZONE 'UTC' AS mid,
           (%(last)s::date + 1)::timestamp AT TIME ZONE 'UTC' AS hi
)"""

# Whether an event of ``e`` counts: a bot's only with the switch on.
EVENT_CLASS = "(NOT e.is_bot OR %(bots)s)"
# Whether a session of ``s`` (session_facts) counts.
SESSION_CLASS = "(NOT s.is_bot OR %(bots)s)"

# Every session from all of its events, not only those in the range: the events of a
# day around it are enough for sessions shorter than a day (all generated ones).  Its
# class and its landing event's classification come along.
SESSIONS = """
session_events AS (
    SELECT e.*, count(*) OVER (PARTITION BY e.session_id,
                               date_trunc('second', e.event_timestamp)) AS same_second
    FROM public.clickstream_events e, range r
    WHERE e.session_id IS NOT NULL
      AND e.event_timestamp >= r.lo - interval '1 day'
      AND e.event_timestamp < r.hi + interval '1 day'
), session_landing AS (
    SELECT e.session_id, min(e.event_timestamp) AS started_at,
           (array_agg(coalesce(e.client_id, e.user_id) ORDER BY e.event_timestamp, e.event_id)
               FILTER (WHERE coalesce(e.client_id, e.user_id) IS NOT NULL))[1] AS visitor,
           bool_or(e.event_name = 'checkout_complete') AS converted,
           bool_or(e.event_name = 'checkout_start') AS checkout_started,
           bool_or(e.event_name = 'add_to_cart_click') AS added_to_cart,
           count(*) AS events,
           (array_agg(e.event_name ORDER BY e.event_timestamp, e.event_id))[1] AS first_event,
           (array_agg(e.event_name ORDER BY e.event_timestamp DESC, e.event_id DESC))[1]
               AS last_event,
           (array_agg(e.page_url ORDER BY e.event_timestamp, e.event_id)
               FILTER (WHERE e.page_url IS NOT NULL))[1] AS entry_page,
           (array_agg(e.page_url ORDER BY e.event_timestamp DESC, e.event_id DESC)
               FILTER (WHERE e.page_url IS NOT NULL))[1] AS exit_page,
           extract(epoch FROM max(e.event_timestamp) - min(e.event_timestamp))::integer
               AS duration_seconds,
           bool_or(e.is_bot)
               OR max(e.same_second) > %(bot_events_per_second)s
               OR NOT bool_or(e.page_url IS NOT NULL
                              OR e.event_name IN ('page_view', 'home_view', 'category_view',
                                                  'product_view')) AS is_bot,
           (array_agg(e.traffic_channel ORDER BY e.event_timestamp, e.event_id))[1] AS channel,
           (array_agg(e.utm_source ORDER BY e.event_timestamp, e.event_id))[1] AS utm_source,
           (array_agg(e.utm_medium ORDER BY e.event_timestamp, e.event_id))[1] AS utm_medium,
           (array_agg(e.utm_campaign ORDER BY e.event_timestamp, e.event_id))[1] AS utm_campaign,
           (array_agg(e.referrer_host ORDER BY e.event_timestamp, e.event_id))[1]
               AS referrer_host,
           (array_agg(e.device_type ORDER BY e.event_timestamp, e.event_id))[1] AS device_type,
           (array_agg(e.browser_family ORDER BY e.event_timestamp, e.event_id))[1] AS browser,
           (array_agg(e.os_family ORDER BY e.event_timestamp, e.event_id))[1] AS os
    FROM session_events e
    GROUP BY e.session_id
), session_facts AS (
    SELECT l.*, coalesce(l.channel, 'direct') AS traffic_channel,
           coalesce(l.utm_source, l.referrer_host, '(direct)') AS source,
           coalesce(l.utm_medium, CASE coalesce(l.channel, 'direct')
                                      WHEN 'direct' THEN '(none)'
                                      WHEN 'organic_search' THEN 'organic'
                                      WHEN 'internal' THEN '(internal)'
                                      ELSE 'referral' END) AS medium,
           coalesce(l.utm_campaign, '(not set)') AS campaign
    FROM session_landing l
)"""

# Visitors over several sessions: distinct per class (see the module's docstring).
VISITORS = "count(DISTINCT (s.visitor, s.is_bot)) FILTER (WHERE s.visitor IS NOT NULL)"

# The steps of public.funnel_steps: step k is reached in order when the session's
# sequence of step numbers that day matches 1.*2.* ... k.
STEPS = f"""
steps AS (
    SELECT f.step_no, f.step_name,
           string_agg(f.step_no::text, '.*') OVER (ORDER BY f.step_no) AS pattern
    FROM public.funnel_steps f
), step_events AS (
    SELECT (e.event_timestamp AT TIME ZONE 'UTC')::date AS day,
           coalesce(e.session_id, 'v:' || coalesce(e.client_id, e.user_id)) AS unit,
           e.is_bot, st.step_no, e.event_timestamp, e.event_id
    FROM public.clickstream_events e
    JOIN steps st ON st.step_name = e.event_name
    CROSS JOIN range r
    WHERE e.event_timestamp >= r.lo AND e.event_timestamp < r.hi AND {EVENT_CLASS}
), sequences AS (
    SELECT s.day, s.unit, s.is_bot,
           string_agg(s.step_no::text, '' ORDER BY s.event_timestamp, s.event_id) AS sequence
    FROM step_events s
    GROUP BY s.day, s.unit, s.is_bot
)"""  # noqa: S608 - constant SQL, the values are bound parameters

# Each event of the range numbered in time order within its session unit of the day
# (the sessionId, else the visitor; events with neither belong to no unit) and class.
NUMBERED = f"""
numbered AS (
    SELECT (e.event_timestamp AT TIME ZONE 'UTC')::date AS day,
           coalesce(e.session_id, 'v:' || coalesce(e.client_id, e.user_id)) AS unit,
           e.is_bot, e.event_name,
           row_number() OVER (PARTITION BY (e.event_timestamp AT TIME ZONE 'UTC')::date,
                                  coalesce(e.session_id, 'v:' || coalesce(e.client_id, e.user_id)),
                                  e.is_bot
                              ORDER BY e.event_timestamp, e.event_id) AS n
    FROM public.clickstream_events e, range r
    WHERE e.event_timestamp >= r.lo AND e.event_timestamp < r.hi
      AND coalesce(e.session_id, e.client_id, e.user_id) IS NOT NULL AND {EVENT_CLASS}
)"""  # noqa: S608 - constant SQL, the values are bound parameters


# Acquisition by a grouping of session_facts: the period's sessions, bounces and
# revenue-bearing steps, then the previous period's sessions and conversions.
def _acquisition(*columns: str, limit: str = "") -> str:
    names = ", ".join(columns)
    return f"""
WITH {RANGE_AND_PREVIOUS}, {SESSIONS}, counted AS (
    SELECT {", ".join("s." + c for c in columns)},
           count(*) FILTER (WHERE s.started_at >= r.mid) AS sessions,
           count(*) FILTER (WHERE s.started_at >= r.mid AND s.events = 1) AS bounced,
           count(*) FILTER (WHERE s.started_at >= r.mid AND s.added_to_cart) AS add_to_cart,
           count(*) FILTER (WHERE s.started_at >= r.mid AND s.checkout_started)
               AS checkout_started,
           count(*) FILTER (WHERE s.started_at >= r.mid AND s.converted) AS converted,
           count(*) FILTER (WHERE s.started_at < r.mid) AS previous_sessions,
           count(*) FILTER (WHERE s.started_at < r.mid AND s.converted) AS previous_converted
    FROM session_facts s, range r
    WHERE s.started_at >= r.lo AND s.started_at < r.hi AND {SESSION_CLASS}
    GROUP BY {names}
)
SELECT * FROM counted ORDER BY sessions DESC, previous_sessions DESC, {names} {limit}
"""  # noqa: S608 - constant SQL, the values are bound parameters


QUERIES: dict[str, str] = {
    "overview_kpis": f"""
WITH {RANGE}, {SESSIONS}
SELECT (SELECT count(*) FROM public.clickstream_events e, range r
         WHERE e.event_timestamp >= r.lo AND e.event_timestamp < r.hi
           AND {EVENT_CLASS}) AS events,
       count(*) AS sessions, {VISITORS} AS visitors,
       count(*) FILTER (WHERE s.converted) AS converted,
       count(*) FILTER (WHERE s.events = 1) AS bounced
FROM session_facts s, range r
WHERE s.started_at >= r.lo AND s.started_at < r.hi AND {SESSION_CLASS}
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "overview_daily": f"""
WITH {RANGE}, {SESSIONS},
days AS (
    SELECT d::date AS day FROM generate_series(%(first)s::date, %(last)s::date, '1 day') AS d
), ev AS (
    SELECT (e.event_timestamp AT TIME ZONE 'UTC')::date AS day, count(*) AS events
    FROM public.clickstream_events e, range r
    WHERE e.event_timestamp >= r.lo AND e.event_timestamp < r.hi AND {EVENT_CLASS}
    GROUP BY 1
), se AS (
    SELECT (s.started_at AT TIME ZONE 'UTC')::date AS day, count(*) AS sessions,
           {VISITORS} AS visitors, count(*) FILTER (WHERE s.converted) AS converted
    FROM session_facts s, range r
    WHERE s.started_at >= r.lo AND s.started_at < r.hi AND {SESSION_CLASS}
    GROUP BY 1
)
SELECT d.day::text AS day, coalesce(ev.events, 0) AS events, coalesce(se.sessions, 0) AS sessions,
       coalesce(se.visitors, 0) AS visitors, coalesce(se.converted, 0) AS converted
FROM days d LEFT JOIN ev USING (day) LEFT JOIN se USING (day)
ORDER BY d.day
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "overview_hourly": f"""
WITH {RANGE}, {SESSIONS},
ev AS (
    SELECT date_trunc('hour', e.event_timestamp, 'UTC') AS hour, count(*) AS events
    FROM public.clickstream_events e, range r
    WHERE e.event_timestamp >= r.lo AND e.event_timestamp < r.hi AND {EVENT_CLASS}
    GROUP BY 1
), se AS (
    SELECT date_trunc('hour', s.started_at, 'UTC') AS hour, count(*) AS sessions,
           {VISITORS} AS visitors
    FROM session_facts s, range r
    WHERE s.started_at >= r.lo AND s.started_at < r.hi AND {SESSION_CLASS}
    GROUP BY 1
)
SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:00') AS period,
       coalesce(ev.events, 0) AS events, coalesce(se.sessions, 0) AS sessions,
       coalesce(se.visitors, 0) AS visitors
FROM ev FULL JOIN se USING (hour)
ORDER BY hour
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "event_mix": f"""
WITH {RANGE}
SELECT e.event_name, count(*) AS events
FROM public.clickstream_events e, range r
WHERE e.event_timestamp >= r.lo AND e.event_timestamp < r.hi AND {EVENT_CLASS}
GROUP BY 1 ORDER BY 2 DESC, 1
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "funnel_steps": f"""
WITH {RANGE}, {STEPS}
SELECT st.step_no, st.step_name,
       (SELECT count(*) FROM sequences q WHERE q.sequence ~ st.pattern) AS sessions_in_order,
       (SELECT count(*) FROM (SELECT DISTINCT x.day, x.unit, x.is_bot FROM step_events x
                               WHERE x.step_no = st.step_no) u) AS sessions,
       (SELECT count(*) FROM step_events x WHERE x.step_no = st.step_no) AS events
FROM steps st
ORDER BY st.step_no
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "funnel_daily": f"""
WITH {RANGE}, {STEPS}
SELECT q.day::text AS day, st.step_no, st.step_name,
       count(*) FILTER (WHERE q.sequence ~ st.pattern) AS sessions_in_order
FROM sequences q CROSS JOIN steps st
GROUP BY q.day, st.step_no, st.step_name
ORDER BY q.day, st.step_no
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "products": f"""
WITH {RANGE}
SELECT e.context_product_id AS product_id,
       count(*) FILTER (WHERE e.event_name = 'product_view') AS views,
       count(*) FILTER (WHERE e.event_name = 'add_to_cart_click') AS add_to_cart,
       count(*) FILTER (WHERE e.event_name = 'wishlist_toggle') AS wishlist
FROM public.clickstream_events e, range r
WHERE e.event_timestamp >= r.lo AND e.event_timestamp < r.hi
  AND e.context_product_id IS NOT NULL AND {EVENT_CLASS}
GROUP BY 1 ORDER BY views DESC, 1
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "product_categories": f"""
WITH {RANGE}
SELECT e.context_product_category AS category,
       count(*) FILTER (WHERE e.event_name = 'product_view') AS views,
       count(*) FILTER (WHERE e.event_name = 'add_to_cart_click') AS add_to_cart
FROM public.clickstream_events e, range r
WHERE e.event_timestamp >= r.lo AND e.event_timestamp < r.hi
  AND e.context_product_id IS NOT NULL AND {EVENT_CLASS}
GROUP BY 1 ORDER BY views DESC, 1
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "journey_entry_exit": f"""
WITH {RANGE}, {SESSIONS}
SELECT s.first_event, s.last_event, count(*) AS sessions
FROM session_facts s, range r
WHERE s.started_at >= r.lo AND s.started_at < r.hi AND {SESSION_CLASS}
GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 25
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "journey_pages": f"""
WITH {RANGE}, {SESSIONS}
SELECT coalesce(s.entry_page, '(unknown)') AS entry_page, count(*) AS sessions,
       count(*) FILTER (WHERE s.events = 1) AS bounced,
       count(*) FILTER (WHERE s.converted) AS converted,
       mode() WITHIN GROUP (ORDER BY s.exit_page) AS top_exit_page
FROM session_facts s, range r
WHERE s.started_at >= r.lo AND s.started_at < r.hi AND {SESSION_CLASS}
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 15
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "journey_next_steps": f"""
WITH {RANGE}, {NUMBERED}
SELECT a.event_name AS from_event_name, coalesce(b.event_name, '(exit)') AS to_event_name,
       count(*) AS transitions
FROM numbered a
LEFT JOIN numbered b
       ON b.day = a.day AND b.unit = a.unit AND b.is_bot = a.is_bot AND b.n = a.n + 1
GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 30
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "journey_paths": f"""
WITH {RANGE}, {NUMBERED}, units AS (
    SELECT string_agg(x.event_name, ' → ' ORDER BY x.n) FILTER (WHERE x.n <= 4)
               || CASE WHEN max(x.n) > 4 THEN ' → …' ELSE '' END AS path,
           bool_or(x.event_name = 'checkout_complete') AS converted
    FROM numbered x
    GROUP BY x.day, x.unit, x.is_bot
)
SELECT u.path, count(*) AS sessions, count(*) FILTER (WHERE u.converted) AS converted
FROM units u
GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 15
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "journey_depth": f"""
WITH {RANGE}, {SESSIONS}
SELECT least(s.events, 20) AS depth, count(*) AS sessions
FROM session_facts s, range r
WHERE s.started_at >= r.lo AND s.started_at < r.hi AND {SESSION_CLASS}
GROUP BY 1 ORDER BY 1
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "acquisition_channels": _acquisition("traffic_channel"),
    "acquisition_sources": _acquisition("source", "medium", limit="LIMIT 20"),
    "acquisition_campaigns": _acquisition("campaign", limit="LIMIT 20"),
    "technology": f"""
WITH {RANGE}, {SESSIONS}, chosen AS (
    SELECT s.* FROM session_facts s, range r
    WHERE s.started_at >= r.lo AND s.started_at < r.hi AND {SESSION_CLASS}
), dimensions AS (
    SELECT 'device' AS dimension, coalesce(c.device_type, 'other') AS value, c.*
    FROM chosen c
    UNION ALL
    SELECT 'browser', coalesce(c.browser, '(unknown)'), c.* FROM chosen c
    UNION ALL
    SELECT 'os', coalesce(c.os, '(unknown)'), c.* FROM chosen c
)
SELECT d.dimension, d.value, count(*) AS sessions,
       count(*) FILTER (WHERE d.added_to_cart) AS add_to_cart,
       count(*) FILTER (WHERE d.checkout_started) AS checkout_started,
       count(*) FILTER (WHERE d.converted) AS converted
FROM dimensions d
GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2
""",  # noqa: S608 - constant SQL, the values are bound parameters
    "pipeline_bots": f"""
WITH {RANGE}, {SESSIONS}
SELECT (SELECT count(*) FROM public.clickstream_events e, range r
         WHERE e.event_timestamp >= r.lo AND e.event_timestamp < r.hi) AS events,
       (SELECT count(*) FROM public.clickstream_events e, range r
         WHERE e.event_timestamp >= r.lo AND e.event_timestamp < r.hi AND e.is_bot)
           AS bot_events,
       count(*) AS sessions, count(*) FILTER (WHERE s.is_bot) AS bot_sessions
FROM session_facts s, range r
WHERE s.started_at >= r.lo AND s.started_at < r.hi
""",  # noqa: S608 - constant SQL, the values are bound parameters
}


def params(first: date, last: date, bots: bool = False) -> dict[str, Any]:
    """The parameters of a reference query, and of an app query of :func:`app_queries`:
    the days and the "Include bots" switch (and the behaviour rule's threshold, which
    only the reference reads)."""
    return {
        "first": first,
        "last": last,
        "bots": bots,
        "bot_events_per_second": BOT_EVENTS_PER_SECOND,
    }


# The app binds $1 and $2 (the days) and $3 (the switch): psycopg2's names for them.
APP_PARAMETERS = ("%(first)s", "%(last)s", "%(bots)s")


def app_queries(sql_dir: Path) -> dict[str, str]:
    """The app's panel queries (roles/shiny/files/app/sql/*.sql) by name, their $1, $2 and
    $3 rewritten as the psycopg2 parameters of :func:`params`."""
    queries = {}
    for path in sorted(sql_dir.glob("*.sql")):
        queries[path.stem] = re.sub(
            r"\$([123])\b", lambda m: APP_PARAMETERS[int(m[1]) - 1], path.read_text()
        )
    return queries


def fetch(conn: Any, name: str, first: date, last: date, bots: bool = False) -> list[tuple]:
    """Run one reference query on a psycopg2 connection; rows as tuples."""
    with conn.cursor() as cur:
        cur.execute(QUERIES[name], params(first, last, bots))
        return cur.fetchall()
