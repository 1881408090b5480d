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
* ``daily_product_engagement`` and ``daily_funnel`` for the days.

If the refresh fails, the queue is rolled back with it and the next run finishes
the job; loaded events are never affected.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from etl_db import Connection
from psycopg2 import sql

ROLLUP_LOCK_KEY = 0x636C6B72  # "clkr": one advisory lock for all rollup refreshes

# SQL below is literal text: ``{target}`` is filled with a quoted identifier by
# psycopg2.sql, ``%(name)s`` are bound parameters (see :func:`parameters`).

HOURLY_SQL = """
DELETE FROM public.hourly_event_counts WHERE event_hour = ANY(%(hours)s::timestamptz[]);
INSERT INTO public.hourly_event_counts (event_hour, event_name, events, unique_visitors, sessions)
SELECT date_trunc('hour', e.event_timestamp, 'UTC'), e.event_name, count(*),
       count(DISTINCT coalesce(e.client_id, e.user_id)), count(DISTINCT e.session_id)
FROM {target} e
WHERE e.event_timestamp >= %(hours_lo)s AND e.event_timestamp < %(hours_hi)s
  AND date_trunc('hour', e.event_timestamp, 'UTC') = ANY(%(hours)s::timestamptz[])
GROUP BY 1, 2;
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
           x.event_name, x.client_id, x.user_id, x.page_url, x.is_first_visit
    FROM explicit_events x
    UNION ALL
    SELECT d.session_key, NULL, true, d.event_id, d.event_timestamp,
           d.event_name, d.client_id, d.user_id, d.page_url, d.is_first_visit
    FROM derived_events d
)
INSERT INTO public.sessions AS s (session_key, session_id, is_derived, visitor_key, client_id,
    user_id, started_at, ended_at, duration_seconds, event_count, page_views, product_views,
    add_to_cart, entry_page, exit_page, first_event_name, last_event_name, is_first_visit,
    checkout_started, converted)
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
    bool_or(e.event_name = 'checkout_complete')
FROM session_events e
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
    converted = EXCLUDED.converted, updated_at = now();
"""

# Per day, the "session unit" is the sessionId, else the visitor (coalesce of the ids).
DAY_EVENTS_SQL = """
CREATE TEMPORARY TABLE etl_day_events ON COMMIT DROP AS
SELECT (e.event_timestamp AT TIME ZONE 'UTC')::date AS day, e.event_id, e.event_timestamp,
       e.event_name, coalesce(e.client_id, e.user_id) AS visitor,
       coalesce(e.session_id, 'v:' || coalesce(e.client_id, e.user_id)) AS unit,
       e.context_product_id, e.context_product_name, e.context_product_category,
       e.context_product_brand
FROM {target} e
WHERE e.event_timestamp >= %(days_lo)s AND e.event_timestamp < %(days_hi)s
  AND (e.event_timestamp AT TIME ZONE 'UTC')::date = ANY(%(days)s::date[]);
"""

PRODUCT_SQL = """
DELETE FROM public.daily_product_engagement WHERE day = ANY(%(days)s::date[]);
WITH converted AS (
    SELECT DISTINCT ev.day, ev.unit FROM etl_day_events ev
    WHERE ev.event_name = 'checkout_complete' AND ev.unit IS NOT NULL
)
INSERT INTO public.daily_product_engagement (day, product_id, product_name, product_category,
    product_brand, views, unique_viewers, add_to_cart, remove_from_cart, wishlist,
    checkout_starts, checkouts_completed, converted_sessions)
SELECT p.day, p.context_product_id,
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
FROM etl_day_events p LEFT JOIN converted c ON c.day = p.day AND c.unit = p.unit
WHERE p.context_product_id IS NOT NULL
GROUP BY p.day, p.context_product_id;
"""

# sN = when each unit first reached step N after having reached step N-1 (strict funnel).
FUNNEL_SQL = """
DELETE FROM public.daily_funnel WHERE day = ANY(%(days)s::date[]);
WITH steps (step_no, step_name) AS (
    VALUES (1, 'home_view'), (2, 'category_view'), (3, 'product_view'),
           (4, 'add_to_cart_click'), (5, 'checkout_start'), (6, 'checkout_complete')
), ev AS (
    SELECT d.day, d.unit, d.event_timestamp, st.step_no
    FROM etl_day_events d JOIN steps st ON st.step_name = d.event_name
), s1 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached FROM ev
    WHERE ev.step_no = 1 AND ev.unit IS NOT NULL GROUP BY 1, 2
), s2 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached
    FROM ev JOIN s1 p ON (p.day, p.unit) = (ev.day, ev.unit) AND ev.event_timestamp >= p.reached
    WHERE ev.step_no = 2 GROUP BY 1, 2
), s3 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached
    FROM ev JOIN s2 p ON (p.day, p.unit) = (ev.day, ev.unit) AND ev.event_timestamp >= p.reached
    WHERE ev.step_no = 3 GROUP BY 1, 2
), s4 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached
    FROM ev JOIN s3 p ON (p.day, p.unit) = (ev.day, ev.unit) AND ev.event_timestamp >= p.reached
    WHERE ev.step_no = 4 GROUP BY 1, 2
), s5 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached
    FROM ev JOIN s4 p ON (p.day, p.unit) = (ev.day, ev.unit) AND ev.event_timestamp >= p.reached
    WHERE ev.step_no = 5 GROUP BY 1, 2
), s6 AS (
    SELECT ev.day, ev.unit, min(ev.event_timestamp) AS reached
    FROM ev JOIN s5 p ON (p.day, p.unit) = (ev.day, ev.unit) AND ev.event_timestamp >= p.reached
    WHERE ev.step_no = 6 GROUP BY 1, 2
), in_order AS (
              SELECT day, 1 AS step_no, count(*) AS n FROM s1 GROUP BY day
    UNION ALL SELECT day, 2, count(*) FROM s2 GROUP BY day
    UNION ALL SELECT day, 3, count(*) FROM s3 GROUP BY day
    UNION ALL SELECT day, 4, count(*) FROM s4 GROUP BY day
    UNION ALL SELECT day, 5, count(*) FROM s5 GROUP BY day
    UNION ALL SELECT day, 6, count(*) FROM s6 GROUP BY day
), totals AS (
    SELECT ev.day, ev.step_no, count(*) AS events, count(DISTINCT ev.unit) AS sessions
    FROM ev GROUP BY 1, 2
), days AS (
    SELECT DISTINCT unnest(%(days)s::date[]) AS day
)
INSERT INTO public.daily_funnel (day, step_no, step_name, events, sessions, sessions_in_order)
SELECT d.day, st.step_no, st.step_name, coalesce(t.events, 0), coalesce(t.sessions, 0),
       coalesce(o.n, 0)
FROM days d CROSS JOIN steps st
LEFT JOIN totals t ON t.day = d.day AND t.step_no = st.step_no
LEFT JOIN in_order o ON o.day = d.day AND o.step_no = st.step_no;
"""

STATEMENTS = (
    ("hourly_event_counts", HOURLY_SQL),
    ("sessions", SESSIONS_SQL),
    ("day_events", DAY_EVENTS_SQL),
    ("daily_product_engagement", PRODUCT_SQL),
    ("daily_funnel", FUNNEL_SQL),
)


def parameters(hours: list[datetime]) -> dict[str, object]:
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
    }


def refresh(conn: Connection, target: sql.Identifier) -> list[datetime]:
    """Recompute the rollups of every queued hour; returns the hours refreshed."""
    with conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (ROLLUP_LOCK_KEY,))
        cur.execute("DELETE FROM public.etl_pending_rollups RETURNING event_hour")
        hours = sorted(row[0] for row in cur.fetchall())
        if not hours:
            return []
        params = parameters(hours)
        for _name, statement in STATEMENTS:
            cur.execute(sql.SQL(statement).format(target=target), params)
    return hours
