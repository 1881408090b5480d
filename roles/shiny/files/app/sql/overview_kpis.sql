-- Overview cards: the period $1..$2 (UTC days, inclusive) and the period of the same
-- length just before it.  Events from hourly_event_counts; sessions, conversions,
-- bounces and durations from hourly_sessions (by the session's start); distinct
-- visitors from daily_visitors: one row per visitor of the period whose previous day
-- with a session is before the period.  Bots only when $3: events by their user agent,
-- sessions by the session's class, visitors by class too (visitor_days chains each
-- class apart: a visitor with sessions of both classes counts once in each).
WITH periods AS (
    SELECT 'current' AS period, $1::date AS first_day, $2::date AS last_day
    UNION ALL
    SELECT 'previous', $1::date - ($2::date - $1::date + 1), $1::date - 1
), bounds AS (
    SELECT p.period, p.first_day, p.last_day,
           p.first_day::timestamp AT TIME ZONE 'UTC' AS lo,
           (p.last_day + 1)::timestamp AT TIME ZONE 'UTC' AS hi
    FROM periods p
)
SELECT b.period, b.first_day::text AS first_day, b.last_day::text AS last_day,
       (SELECT coalesce(sum(h.events), 0)::float8 FROM public.hourly_event_counts h
         WHERE h.event_hour >= b.lo AND h.event_hour < b.hi
           AND (NOT h.is_bot OR $3::boolean)) AS events,
       s.sessions,
       (SELECT coalesce(sum(v.visitors), 0)::float8 FROM public.daily_visitors v
         WHERE v.day BETWEEN b.first_day AND b.last_day
           AND (v.previous_day IS NULL OR v.previous_day < b.first_day)
           AND (NOT v.is_bot OR $3::boolean)) AS visitors,
       s.converted, s.bounced, s.avg_duration_seconds
FROM bounds b
CROSS JOIN LATERAL (
    SELECT coalesce(sum(x.sessions), 0)::float8 AS sessions,
           coalesce(sum(x.converted), 0)::float8 AS converted,
           coalesce(sum(x.bounced), 0)::float8 AS bounced,
           coalesce(sum(x.duration_seconds)::float8 / nullif(sum(x.sessions), 0), 0)
               AS avg_duration_seconds
    FROM public.hourly_sessions x
    WHERE x.session_hour >= b.lo AND x.session_hour < b.hi AND (NOT x.is_bot OR $3::boolean)
) s
ORDER BY b.period;
