"""Incremental refresh of what the dashboards read, for the hours a load touched.

Each load queues the UTC hours of the events it inserted in ``etl_pending_rollups``
(same transaction as the events).  :func:`refresh` takes a transaction-scoped
advisory lock (rollups of concurrent runs are serialised), empties the queue and
recomputes, for those hours and their days only:

* ``hourly_event_counts`` for the hours;
* ``sessions`` touched by events of the hours: sessions by sessionId are rebuilt
  from all their events; events without sessionId are split per visitor
  (clientId, else userId) by 30 minutes of inactivity, and that visitor's derived
  sessions are rebuilt;
* what is counted by the sessions' start (migration 0005), for the start hours and
  days of the sessions rebuilt, before and after (a late event may move a session's
  start): ``hourly_sessions``, ``daily_session_depth``, ``daily_session_entry_exit``,
  ``daily_entry_pages``, ``daily_entry_exit_pages``, and ``visitor_days`` with its
  counts ``daily_visitors`` (distinct visitors over any range of days);
* ``daily_product_engagement``, ``daily_funnel`` (one ordered pass per session unit,
  linear in the day's events), ``daily_event_transitions`` and
  ``daily_session_paths`` for the days;
* since migration 0008, each session's class (a bot by an event's user agent, or by
  its behaviour: more than ``bot_events_per_second`` events within one second, or no
  page) and its landing event's device and source, ``daily_acquisition`` and
  ``daily_technology``; every rollup is split by ``is_bot`` (event rollups by the
  event's user agent, session rollups by the session's class).

If the refresh fails, the queue is rolled back with it and the next run finishes
the job; loaded events are never affected.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from psycopg2 import extensions, sql

from clickstream_etl.etl_db import Connection

ROLLUP_LOCK_KEY = 0x636C6B72  # "clkr": one advisory lock for all rollup refreshes
# A session with more events than this within one second of the clock is a bot by its
# behaviour (ETL_BOT_EVENTS_PER_SECOND).
BOT_EVENTS_PER_SECOND = 10

# SQL below is literal text: ``{target}`` is filled with a quoted identifier by
# psycopg2.sql, ``%(name)s`` are bound parameters (see :func:`parameters`).

HOURLY_SQL = """
DELETE FROM public.hourly_event_counts WHERE event_hour = ANY(%(hours)s::timestamptz[]);
INSERT INTO public.hourly_event_counts (event_hour, event_name, is_bot, events, unique_visitors,
    sessions)
SELECT date_trunc('hour', e.event_timestamp, 'UTC'), e.event_name, e.is_bot, count(*),
       count(DISTINCT coalesce(e.client_id, e.user_id)), count(DISTINCT e.session_id)
FROM {target} e
WHERE e.event_timestamp >= %(hours_lo)s AND e.event_timestamp < %(hours_hi)s
  AND date_trunc('hour', e.event_timestamp, 'UTC') = ANY(%(hours)s::timestamptz[])
GROUP BY 1, 2, 3;
"""

# The start hours of the sessions the refresh rebuilds: taken before (where they were)
# and after (where they are), so the session rollups below follow a session that moved.
TOUCHED_SESSION_HOURS = """
SELECT date_trunc('hour', s.started_at, 'UTC') AS session_hour
FROM public.sessions s
WHERE s.session_key IN (SELECT 's:' || t.session_id FROM etl_touched t
                        WHERE t.session_id IS NOT NULL)
UNION
SELECT date_trunc('hour', s.started_at, 'UTC')
FROM public.sessions s
WHERE s.is_derived AND s.visitor_key IN (SELECT t.visitor FROM etl_touched t)
"""

# Sessions touched by the hours: every sessionId seen in them, rebuilt from all its
# events; every visitor with sessionless events in them, whose sessionless events are
# re-split by 30 minutes of inactivity (their old derived sessions deleted first).
SESSIONS_SQL = """
CREATE TEMPORARY TABLE etl_touched ON COMMIT DROP AS
SELECT DISTINCT a.session_id, CASE WHEN a.session_id IS NULL
                                   THEN coalesce(a.client_id, a.user_id) END AS visitor
FROM {target} a
WHERE a.event_timestamp >= %(hours_lo)s AND a.event_timestamp < %(hours_hi)s
  AND date_trunc('hour', a.event_timestamp, 'UTC') = ANY(%(hours)s::timestamptz[])
  AND (a.session_id IS NOT NULL OR coalesce(a.client_id, a.user_id) IS NOT NULL);

CREATE TEMPORARY TABLE etl_session_hours ON COMMIT DROP AS
{touched_hours};

DELETE FROM public.sessions s
WHERE s.is_derived AND s.visitor_key IN (SELECT t.visitor FROM etl_touched t);

WITH explicit_events AS (
    SELECT 's:' || e.session_id AS session_key, e.*
    FROM {target} e
    WHERE e.session_id IN (SELECT t.session_id FROM etl_touched t)
), sessionless AS (
    SELECT coalesce(e.client_id, e.user_id) AS visitor, e.*
    FROM {target} e
    WHERE e.session_id IS NULL
      AND coalesce(e.client_id, e.user_id) IN (SELECT t.visitor FROM etl_touched t)
), marked AS (
    SELECT CASE WHEN lag(x.event_timestamp) OVER w IS NULL
                  OR x.event_timestamp - lag(x.event_timestamp) OVER w > interval '30 minutes'
                THEN 1 ELSE 0 END AS starts_session,
           x.*
    FROM sessionless x
    WINDOW w AS (PARTITION BY x.visitor ORDER BY x.event_timestamp, x.event_id)
), numbered AS (
    SELECT sum(m.starts_session) OVER (PARTITION BY m.visitor
               ORDER BY m.event_timestamp, m.event_id) AS session_no,
           m.*
    FROM marked m
), derived_events AS (
    SELECT 'd:' || n.visitor || ':'
               || (extract(epoch FROM min(n.event_timestamp) OVER (PARTITION BY n.visitor,
                   n.session_no)) * 1000)::bigint AS session_key,
           n.*
    FROM numbered n
), session_events AS (
    SELECT x.session_key, x.session_id, false AS is_derived, x.event_id, x.event_timestamp,
           x.event_name, x.client_id, x.user_id, x.page_url, x.is_first_visit, x.is_bot,
           x.device_type, x.browser_family, x.os_family, x.traffic_channel, x.utm_source,
           x.utm_medium, x.utm_campaign, x.referrer_host
    FROM explicit_events x
    UNION ALL
    SELECT d.session_key, NULL, true, d.event_id, d.event_timestamp,
           d.event_name, d.client_id, d.user_id, d.page_url, d.is_first_visit, d.is_bot,
           d.device_type, d.browser_family, d.os_family, d.traffic_channel, d.utm_source,
           d.utm_medium, d.utm_campaign, d.referrer_host
    FROM derived_events d
), per_second AS (
    SELECT e.*, count(*) OVER (PARTITION BY e.session_key,
                               date_trunc('second', e.event_timestamp)) AS same_second
    FROM session_events e
), classed AS (
    -- the session's class: a bot by an event's user agent, else by its behaviour (more
    -- than N events within one second of the clock, or not one page)
    SELECT e.session_key, bool_or(e.is_bot) AS agent_bot,
           max(e.same_second) > %(bot_events_per_second)s
               OR (count(e.page_url) = 0
                   AND count(*) FILTER (WHERE e.event_name IN ('page_view', 'home_view',
                                        'category_view', 'product_view')) = 0) AS behaviour_bot
    FROM per_second e
    GROUP BY e.session_key
), landing AS (
    -- what the session's first event says of its source and device
    SELECT DISTINCT ON (e.session_key) e.session_key, e.device_type, e.browser_family,
           e.os_family, coalesce(e.traffic_channel, 'direct') AS traffic_channel, e.utm_source,
           e.utm_medium, e.utm_campaign, e.referrer_host
    FROM session_events e
    ORDER BY e.session_key, e.event_timestamp, e.event_id
)
INSERT INTO public.sessions AS s (session_key, session_id, is_derived, visitor_key, client_id,
    user_id, started_at, ended_at, duration_seconds, event_count, page_views, product_views,
    add_to_cart, entry_page, exit_page, first_event_name, last_event_name, is_first_visit,
    checkout_started, converted, is_bot, bot_reason, device_type, browser_family, os_family,
    traffic_channel, source, medium, campaign)
SELECT e.session_key, min(e.session_id), bool_and(e.is_derived),
    (array_agg(coalesce(e.client_id, e.user_id) ORDER BY e.event_timestamp, e.event_id)
        FILTER (WHERE coalesce(e.client_id, e.user_id) IS NOT NULL))[1],
    (array_agg(e.client_id ORDER BY e.event_timestamp, e.event_id)
        FILTER (WHERE e.client_id IS NOT NULL))[1],
    (array_agg(e.user_id ORDER BY e.event_timestamp DESC, e.event_id DESC)
        FILTER (WHERE e.user_id IS NOT NULL))[1],
    min(e.event_timestamp), max(e.event_timestamp),
    extract(epoch FROM max(e.event_timestamp) - min(e.event_timestamp))::integer,
    count(*),
    count(*) FILTER (WHERE e.event_name IN ('page_view', 'home_view', 'category_view',
                                            'product_view')),
    count(*) FILTER (WHERE e.event_name = 'product_view'),
    count(*) FILTER (WHERE e.event_name = 'add_to_cart_click'),
    (array_agg(e.page_url ORDER BY e.event_timestamp, e.event_id)
        FILTER (WHERE e.page_url IS NOT NULL))[1],
    (array_agg(e.page_url ORDER BY e.event_timestamp DESC, e.event_id DESC)
        FILTER (WHERE e.page_url IS NOT NULL))[1],
    (array_agg(e.event_name ORDER BY e.event_timestamp, e.event_id))[1],
    (array_agg(e.event_name ORDER BY e.event_timestamp DESC, e.event_id DESC))[1],
    bool_or(e.is_first_visit),
    bool_or(e.event_name = 'checkout_start'),
    bool_or(e.event_name = 'checkout_complete'),
    -- one row of classed and of landing per session: min() reads it
    bool_or(c.agent_bot OR c.behaviour_bot),
    min(CASE WHEN c.agent_bot THEN 'user_agent' WHEN c.behaviour_bot THEN 'behaviour' END),
    min(coalesce(l.device_type, 'other')), min(l.browser_family), min(l.os_family),
    min(l.traffic_channel),
    min(coalesce(l.utm_source, l.referrer_host, '(direct)')),
    min(coalesce(l.utm_medium, CASE l.traffic_channel
        WHEN 'direct' THEN '(none)' WHEN 'organic_search' THEN 'organic'
        WHEN 'internal' THEN '(internal)' ELSE 'referral' END)),
    min(coalesce(l.utm_campaign, '(not set)'))
FROM session_events e
JOIN classed c ON c.session_key = e.session_key
JOIN landing l ON l.session_key = e.session_key
GROUP BY e.session_key
ON CONFLICT (session_key) DO UPDATE SET
    visitor_key = EXCLUDED.visitor_key, client_id = EXCLUDED.client_id,
    user_id = EXCLUDED.user_id, started_at = EXCLUDED.started_at,
    ended_at = EXCLUDED.ended_at, duration_seconds = EXCLUDED.duration_seconds,
    event_count = EXCLUDED.event_count, page_views = EXCLUDED.page_views,
    product_views = EXCLUDED.product_views, add_to_cart = EXCLUDED.add_to_cart,
    entry_page = EXCLUDED.entry_page, exit_page = EXCLUDED.exit_page,
    first_event_name = EXCLUDED.first_event_name, last_event_name = EXCLUDED.last_event_name,
    is_first_visit = EXCLUDED.is_first_visit, checkout_started = EXCLUDED.checkout_started,
    converted = EXCLUDED.converted, is_bot = EXCLUDED.is_bot, bot_reason = EXCLUDED.bot_reason,
    device_type = EXCLUDED.device_type, browser_family = EXCLUDED.browser_family,
    os_family = EXCLUDED.os_family, traffic_channel = EXCLUDED.traffic_channel,
    source = EXCLUDED.source, medium = EXCLUDED.medium, campaign = EXCLUDED.campaign,
    updated_at = now();

INSERT INTO etl_session_hours (session_hour)
{touched_hours};
""".replace("{touched_hours}", TOUCHED_SESSION_HOURS.strip())

# Per day, the "session unit" is the sessionId, else the visitor (coalesce of the ids).
DAY_EVENTS_SQL = """
CREATE TEMPORARY TABLE etl_day_events ON COMMIT DROP AS
SELECT (e.event_timestamp AT TIME ZONE 'UTC')::date AS day, e.event_id, e.event_timestamp,
       e.event_name, coalesce(e.client_id, e.user_id) AS visitor,
       coalesce(e.session_id, 'v:' || coalesce(e.client_id, e.user_id)) AS unit,
       e.context_product_id, e.context_product_name, e.context_product_category,
       e.context_product_brand, e.is_bot
FROM {target} e
WHERE e.event_timestamp >= %(days_lo)s AND e.event_timestamp < %(days_hi)s
  AND (e.event_timestamp AT TIME ZONE 'UTC')::date = ANY(%(days)s::date[]);
"""

PRODUCT_SQL = """
DELETE FROM public.daily_product_engagement WHERE day = ANY(%(days)s::date[]);
WITH converted AS (
    SELECT DISTINCT ev.day, ev.is_bot, ev.unit FROM etl_day_events ev
    WHERE ev.event_name = 'checkout_complete' AND ev.unit IS NOT NULL
)
INSERT INTO public.daily_product_engagement (day, product_id, is_bot, product_name,
    product_category, product_brand, views, unique_viewers, add_to_cart, remove_from_cart, wishlist,
    checkout_starts, checkouts_completed, converted_sessions)
SELECT p.day, p.context_product_id, p.is_bot,
    (array_agg(p.context_product_name ORDER BY p.event_timestamp DESC, p.event_id DESC)
        FILTER (WHERE p.context_product_name IS NOT NULL))[1],
    (array_agg(p.context_product_category ORDER BY p.event_timestamp DESC, p.event_id DESC)
        FILTER (WHERE p.context_product_category IS NOT NULL))[1],
    (array_agg(p.context_product_brand ORDER BY p.event_timestamp DESC, p.event_id DESC)
        FILTER (WHERE p.context_product_brand IS NOT NULL))[1],
    count(*) FILTER (WHERE p.event_name = 'product_view'),
    count(DISTINCT p.visitor) FILTER (WHERE p.event_name = 'product_view'),
    count(*) FILTER (WHERE p.event_name = 'add_to_cart_click'),
    count(*) FILTER (WHERE p.event_name = 'remove_from_cart_click'),
    count(*) FILTER (WHERE p.event_name = 'wishlist_toggle'),
    count(*) FILTER (WHERE p.event_name = 'checkout_start'),
    count(*) FILTER (WHERE p.event_name = 'checkout_complete'),
    count(DISTINCT p.unit) FILTER (WHERE c.unit IS NOT NULL)
FROM etl_day_events p
LEFT JOIN converted c ON c.day = p.day AND c.is_bot = p.is_bot AND c.unit = p.unit
WHERE p.context_product_id IS NOT NULL
GROUP BY p.day, p.context_product_id, p.is_bot;
"""

# The strict funnel in one pass, over the steps of public.funnel_steps (migration 0006):
# each unit's step numbers of the day as a string in time order (equal timestamps: lower
# step first, so "at the same moment" counts as in order); step k is reached in order
# when that string matches 1.*2.* ... k.  Linear in the day's events; the same figures
# as the earlier self-join of the steps (tests prove it).
FUNNEL_SQL = """
DELETE FROM public.daily_funnel WHERE day = ANY(%(days)s::date[]);
WITH steps AS (
    SELECT f.step_no, f.step_name,
           string_agg(f.step_no::text, '.*') OVER (ORDER BY f.step_no) AS pattern
    FROM public.funnel_steps f
), ev AS (
    SELECT d.day, d.is_bot, d.unit, d.event_timestamp, st.step_no
    FROM etl_day_events d JOIN steps st ON st.step_name = d.event_name
), sequences AS (
    SELECT ev.day, ev.is_bot,
           string_agg(ev.step_no::text, '' ORDER BY ev.event_timestamp, ev.step_no) AS sequence
    FROM ev WHERE ev.unit IS NOT NULL
    GROUP BY ev.day, ev.is_bot, ev.unit
), in_order AS (
    SELECT q.day, q.is_bot, st.step_no, count(*) FILTER (WHERE q.sequence ~ st.pattern) AS n
    FROM sequences q CROSS JOIN steps st
    GROUP BY 1, 2, 3
), totals AS (
    SELECT ev.day, ev.is_bot, ev.step_no, count(*) AS events, count(DISTINCT ev.unit) AS sessions
    FROM ev GROUP BY 1, 2, 3
), days AS (
    SELECT DISTINCT unnest(%(days)s::date[]) AS day
)
INSERT INTO public.daily_funnel (day, step_no, is_bot, step_name, events, sessions,
    sessions_in_order)
SELECT d.day, st.step_no, b.is_bot, st.step_name, coalesce(t.events, 0),
       coalesce(t.sessions, 0), coalesce(o.n, 0)
FROM days d CROSS JOIN steps st CROSS JOIN (VALUES (false), (true)) AS b (is_bot)
LEFT JOIN totals t ON t.day = d.day AND t.is_bot = b.is_bot AND t.step_no = st.step_no
LEFT JOIN in_order o ON o.day = d.day AND o.is_bot = b.is_bot AND o.step_no = st.step_no;
"""

# What comes next within a session unit of the day: pairs of consecutive event names,
# '(exit)' after the unit's last event of the day.
TRANSITIONS_SQL = """
DELETE FROM public.daily_event_transitions WHERE day = ANY(%(days)s::date[]);
INSERT INTO public.daily_event_transitions (day, from_event_name, to_event_name, is_bot,
    transitions)
SELECT t.day, t.event_name, coalesce(t.next_event_name, '(exit)'), t.is_bot, count(*)
FROM (
    SELECT d.day, d.event_name, d.is_bot,
           lead(d.event_name) OVER (PARTITION BY d.day, d.is_bot, d.unit
                                    ORDER BY d.event_timestamp, d.event_id) AS next_event_name
    FROM etl_day_events d
    WHERE d.unit IS NOT NULL
) t
GROUP BY 1, 2, 3, 4;
"""

# The most common paths: each session unit's first four events of the day, ' → …' after
# them when it had more.
PATHS_SQL = """
DELETE FROM public.daily_session_paths WHERE day = ANY(%(days)s::date[]);
INSERT INTO public.daily_session_paths (day, path, is_bot, sessions, converted)
SELECT u.day, array_to_string(u.names[1:4], ' → ')
           || CASE WHEN cardinality(u.names) > 4 THEN ' → …' ELSE '' END,
       u.is_bot, count(*), count(*) FILTER (WHERE u.converted)
FROM (
    SELECT d.day, d.is_bot,
           array_agg(d.event_name ORDER BY d.event_timestamp, d.event_id) AS names,
           bool_or(d.event_name = 'checkout_complete') AS converted
    FROM etl_day_events d
    WHERE d.unit IS NOT NULL
    GROUP BY d.day, d.is_bot, d.unit
) u
GROUP BY 1, 2, 3;
"""

# Everything counted by the sessions' start: the hours and days of etl_session_hours.
SESSION_HOURLY_SQL = """
CREATE TEMPORARY TABLE etl_session_days ON COMMIT DROP AS
SELECT DISTINCT (h.session_hour AT TIME ZONE 'UTC')::date AS day FROM etl_session_hours h;

DELETE FROM public.hourly_sessions
WHERE session_hour IN (SELECT h.session_hour FROM etl_session_hours h);
INSERT INTO public.hourly_sessions (session_hour, is_bot, sessions, visitors, converted, bounced,
    duration_seconds)
SELECT date_trunc('hour', s.started_at, 'UTC'), s.is_bot, count(*), count(DISTINCT s.visitor_key),
       count(*) FILTER (WHERE s.converted), count(*) FILTER (WHERE s.event_count = 1),
       sum(s.duration_seconds)
FROM public.sessions s
WHERE s.started_at >= (SELECT min(h.session_hour) FROM etl_session_hours h)
  AND s.started_at < (SELECT max(h.session_hour) FROM etl_session_hours h) + interval '1 hour'
  AND date_trunc('hour', s.started_at, 'UTC') IN (SELECT h.session_hour FROM etl_session_hours h)
GROUP BY 1, 2;

CREATE TEMPORARY TABLE etl_day_sessions ON COMMIT DROP AS
SELECT (s.started_at AT TIME ZONE 'UTC')::date AS day, s.is_bot, s.visitor_key, s.event_count,
       s.converted, s.duration_seconds, s.entry_page, s.exit_page, s.first_event_name,
       s.last_event_name, s.add_to_cart, s.checkout_started, s.traffic_channel, s.source,
       s.medium, s.campaign, s.device_type, s.browser_family, s.os_family
FROM public.sessions s
WHERE s.started_at >= (SELECT min(d.day) FROM etl_session_days d)::timestamp AT TIME ZONE 'UTC'
  AND s.started_at < (SELECT max(d.day) + 1 FROM etl_session_days d)::timestamp AT TIME ZONE 'UTC'
  AND (s.started_at AT TIME ZONE 'UTC')::date IN (SELECT d.day FROM etl_session_days d);
"""

SESSION_DAILY_SQL = """
DELETE FROM public.daily_session_depth WHERE day IN (SELECT d.day FROM etl_session_days d);
INSERT INTO public.daily_session_depth (day, depth, is_bot, sessions, converted)
SELECT s.day, least(s.event_count, 20), s.is_bot, count(*), count(*) FILTER (WHERE s.converted)
FROM etl_day_sessions s
GROUP BY 1, 2, 3;

DELETE FROM public.daily_session_entry_exit WHERE day IN (SELECT d.day FROM etl_session_days d);
INSERT INTO public.daily_session_entry_exit (day, first_event_name, last_event_name, is_bot,
    sessions, converted, events)
SELECT s.day, s.first_event_name, s.last_event_name, s.is_bot, count(*),
       count(*) FILTER (WHERE s.converted), sum(s.event_count)
FROM etl_day_sessions s
GROUP BY 1, 2, 3, 4;

DELETE FROM public.daily_entry_pages WHERE day IN (SELECT d.day FROM etl_session_days d);
INSERT INTO public.daily_entry_pages (day, entry_page, is_bot, sessions, bounced, converted,
    duration_seconds)
SELECT s.day, s.entry_page, s.is_bot, count(*), count(*) FILTER (WHERE s.event_count = 1),
       count(*) FILTER (WHERE s.converted), sum(s.duration_seconds)
FROM etl_day_sessions s
GROUP BY 1, 2, 3;

DELETE FROM public.daily_entry_exit_pages WHERE day IN (SELECT d.day FROM etl_session_days d);
INSERT INTO public.daily_entry_exit_pages (day, entry_page, exit_page, is_bot, sessions)
SELECT s.day, s.entry_page, s.exit_page, s.is_bot, count(*)
FROM etl_day_sessions s
WHERE s.exit_page IS NOT NULL
GROUP BY 1, 2, 3, 4;

DELETE FROM public.daily_acquisition WHERE day IN (SELECT d.day FROM etl_session_days d);
INSERT INTO public.daily_acquisition (day, is_bot, traffic_channel, source, medium, campaign,
    sessions, visitors, bounced, add_to_cart, checkout_started, converted)
SELECT s.day, s.is_bot, s.traffic_channel, s.source, s.medium, s.campaign, count(*),
       count(DISTINCT s.visitor_key), count(*) FILTER (WHERE s.event_count = 1),
       count(*) FILTER (WHERE s.add_to_cart > 0), count(*) FILTER (WHERE s.checkout_started),
       count(*) FILTER (WHERE s.converted)
FROM etl_day_sessions s
GROUP BY 1, 2, 3, 4, 5, 6;

DELETE FROM public.daily_technology WHERE day IN (SELECT d.day FROM etl_session_days d);
INSERT INTO public.daily_technology (day, is_bot, device_type, browser_family, os_family,
    sessions, visitors, add_to_cart, checkout_started, converted)
SELECT s.day, s.is_bot, s.device_type, coalesce(s.browser_family, '(unknown)'),
       coalesce(s.os_family, '(unknown)'), count(*), count(DISTINCT s.visitor_key),
       count(*) FILTER (WHERE s.add_to_cart > 0), count(*) FILTER (WHERE s.checkout_started),
       count(*) FILTER (WHERE s.converted)
FROM etl_day_sessions s
GROUP BY 1, 2, 3, 4, 5;
"""

# Visitors: rebuild the affected days' visitor_days rows, re-chain previous_day for every
# visitor who had or has a row on those days (a later day's previous_day may change),
# then recount daily_visitors for the days whose rows changed.
VISITORS_SQL = """
CREATE TEMPORARY TABLE etl_day_visitors ON COMMIT DROP AS
SELECT v.visitor_key FROM public.visitor_days v
WHERE v.day = ANY(ARRAY(SELECT d.day FROM etl_session_days d))
UNION
SELECT s.visitor_key FROM etl_day_sessions s WHERE s.visitor_key IS NOT NULL;
ANALYZE etl_day_visitors;

DELETE FROM public.visitor_days
WHERE day = ANY(ARRAY(SELECT d.day FROM etl_session_days d));
INSERT INTO public.visitor_days (visitor_key, day, is_bot, previous_day, sessions)
SELECT s.visitor_key, s.day, s.is_bot, NULL, count(*)
FROM etl_day_sessions s
WHERE s.visitor_key IS NOT NULL
GROUP BY 1, 2, 3;

-- Only the rows whose previous day changes are updated, by primary key, and days are
-- looked up by index (= ANY of an array, whatever the temporary tables' statistics):
-- the cost follows the visitors of the refreshed days, not the size of visitor_days.
CREATE TEMPORARY TABLE etl_visitor_chain ON COMMIT DROP AS
SELECT c.visitor_key, c.day, c.is_bot, c.previous_day
FROM (
    SELECT v.visitor_key, v.day, v.is_bot, v.previous_day AS stored_previous_day,
           lag(v.day) OVER (PARTITION BY v.visitor_key, v.is_bot ORDER BY v.day) AS previous_day
    FROM public.visitor_days v
    WHERE v.visitor_key IN (SELECT x.visitor_key FROM etl_day_visitors x)
) c
WHERE c.previous_day IS DISTINCT FROM c.stored_previous_day;
ANALYZE etl_visitor_chain;

UPDATE public.visitor_days v SET previous_day = c.previous_day
FROM etl_visitor_chain c
WHERE v.visitor_key = c.visitor_key AND v.day = c.day AND v.is_bot = c.is_bot;

CREATE TEMPORARY TABLE etl_visitor_days_changed ON COMMIT DROP AS
SELECT c.day FROM etl_visitor_chain c UNION SELECT d.day FROM etl_session_days d;

DELETE FROM public.daily_visitors
WHERE day IN (SELECT c.day FROM etl_visitor_days_changed c);
INSERT INTO public.daily_visitors (day, previous_day, is_bot, visitors)
SELECT v.day, v.previous_day, v.is_bot, count(*)
FROM public.visitor_days v
WHERE v.day = ANY(ARRAY(SELECT c.day FROM etl_visitor_days_changed c))
GROUP BY 1, 2, 3;
"""

# Two independent chains: what is counted by session (sessions first, then what counts
# them) and what is counted from the days' events alone.  With a second connection the
# event chain runs on it while the session chain runs on the first (see refresh).
SESSION_STATEMENTS = (
    ("sessions", SESSIONS_SQL),
    ("hourly_sessions", SESSION_HOURLY_SQL),
    ("daily_session_rollups", SESSION_DAILY_SQL),
    ("visitors", VISITORS_SQL),
)
EVENT_STATEMENTS = (
    ("hourly_event_counts", HOURLY_SQL),
    ("day_events", DAY_EVENTS_SQL),
    ("daily_product_engagement", PRODUCT_SQL),
    ("daily_funnel", FUNNEL_SQL),
    ("daily_event_transitions", TRANSITIONS_SQL),
    ("daily_session_paths", PATHS_SQL),
)
STATEMENTS = SESSION_STATEMENTS + EVENT_STATEMENTS


def parameters(
    hours: list[datetime], bot_events_per_second: int = BOT_EVENTS_PER_SECOND
) -> dict[str, object]:
    days = sorted({hour.date() for hour in hours})
    first_day = datetime.combine(days[0], datetime.min.time(), tzinfo=hours[0].tzinfo)
    last_day = datetime.combine(days[-1], datetime.min.time(), tzinfo=hours[0].tzinfo)
    return {
        "hours": hours,
        "hours_lo": hours[0],
        "hours_hi": hours[-1] + timedelta(hours=1),
        "days": days,
        "days_lo": first_day,
        "days_hi": last_day + timedelta(days=1),
        "bot_events_per_second": bot_events_per_second,
    }


def _execute(
    cur: extensions.cursor,
    statements: tuple[tuple[str, str], ...],
    target: sql.Identifier,
    params: dict[str, object],
) -> dict[str, float]:
    """Run the statements in order; the seconds each took, by name."""
    timings = {}
    for name, statement in statements:
        started = time.perf_counter()
        cur.execute(sql.SQL(statement).format(target=target), params)
        timings[name] = time.perf_counter() - started
    return timings


def _execute_and_commit(
    conn: Connection,
    statements: tuple[tuple[str, str], ...],
    target: sql.Identifier,
    params: dict[str, object],
) -> dict[str, float]:
    with conn, conn.cursor() as cur:
        return _execute(cur, statements, target, params)


def refresh(
    conn: Connection,
    target: sql.Identifier,
    timings: dict[str, float] | None = None,
    helper: Connection | None = None,
    bot_events_per_second: int = BOT_EVENTS_PER_SECOND,
) -> list[datetime]:
    """Recompute the rollups of every queued hour; returns the hours refreshed.

    With ``helper`` (a second connection to the same database, idle), the event chain
    runs on it at the same time as the session chain runs on ``conn``.  It commits
    first, while ``conn`` still holds the lock and the emptied queue; only then does
    ``conn`` commit.  If either part fails, the queue is rolled back: a part that did
    commit is simply recomputed by the next refresh, as every statement replaces the
    rows of its hours and days.  ``timings``, when given, accumulates the seconds each
    statement took, by name.
    """
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (ROLLUP_LOCK_KEY,))
        cur.execute("DELETE FROM public.etl_pending_rollups RETURNING event_hour")
        hours = sorted(row[0] for row in cur.fetchall())
        if not hours:
            return []
        params = parameters(hours, bot_events_per_second)
        if helper is None:
            took = _execute(cur, STATEMENTS, target, params)
        else:
            with ThreadPoolExecutor(1, thread_name_prefix="dw-rollups") as pool:
                events = pool.submit(_execute_and_commit, helper, EVENT_STATEMENTS, target, params)
                took = _execute(cur, SESSION_STATEMENTS, target, params)
                took.update(events.result())
    if timings is not None:
        for name, seconds in took.items():
            timings[name] = timings.get(name, 0.0) + seconds
    return hours
