-- Overview by day: events, sessions started and their distinct visitors per UTC day of
-- $1..$2, next to the same day of the previous period (same length, just before).
-- Bots only when $3: events by their user agent, sessions and visitors by the session's
-- class (a visitor with sessions of both classes counts once in each).
WITH days AS (
    SELECT d::date AS day, d::date - ($2::date - $1::date + 1) AS previous_day
    FROM generate_series($1::date, $2::date, interval '1 day') AS d
), range AS (
    SELECT min(previous_day) AS first_day, max(day) AS last_day,
           min(previous_day)::timestamp AT TIME ZONE 'UTC' AS lo,
           (max(day) + 1)::timestamp AT TIME ZONE 'UTC' AS hi
    FROM days
), ev AS (
    SELECT (h.event_hour AT TIME ZONE 'UTC')::date AS day, sum(h.events) AS events
    FROM public.hourly_event_counts h, range r
    WHERE h.event_hour >= r.lo AND h.event_hour < r.hi AND (NOT h.is_bot OR $3::boolean)
    GROUP BY 1
), se AS (
    SELECT (s.session_hour AT TIME ZONE 'UTC')::date AS day, sum(s.sessions) AS sessions,
           sum(s.converted) AS converted
    FROM public.hourly_sessions s, range r
    WHERE s.session_hour >= r.lo AND s.session_hour < r.hi AND (NOT s.is_bot OR $3::boolean)
    GROUP BY 1
), vi AS (
    SELECT v.day, sum(v.visitors) AS visitors
    FROM public.daily_visitors v, range r
    WHERE v.day BETWEEN r.first_day AND r.last_day AND (NOT v.is_bot OR $3::boolean)
    GROUP BY 1
)
SELECT d.day::text AS day,
       coalesce(e.events, 0)::float8 AS events, coalesce(s.sessions, 0)::float8 AS sessions,
       coalesce(v.visitors, 0)::float8 AS visitors, coalesce(s.converted, 0)::float8 AS converted,
       d.previous_day::text AS previous_day,
       coalesce(pe.events, 0)::float8 AS previous_events,
       coalesce(ps.sessions, 0)::float8 AS previous_sessions,
       coalesce(pv.visitors, 0)::float8 AS previous_visitors
FROM days d
LEFT JOIN ev e ON e.day = d.day
LEFT JOIN se s ON s.day = d.day
LEFT JOIN vi v ON v.day = d.day
LEFT JOIN ev pe ON pe.day = d.previous_day
LEFT JOIN se ps ON ps.day = d.previous_day
LEFT JOIN vi pv ON pv.day = d.previous_day
ORDER BY d.day;
