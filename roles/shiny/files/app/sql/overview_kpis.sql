-- Overview cards: the period $1..$2 (UTC days, inclusive) and the period of the same
-- length just before it.  Events from hourly_event_counts; sessions, visitors,
-- conversions and bounces from sessions, by the session's start.
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
         WHERE h.event_hour >= b.lo AND h.event_hour < b.hi) AS events,
       s.sessions, s.visitors, s.converted, s.bounced, s.avg_duration_seconds
FROM bounds b
CROSS JOIN LATERAL (
    SELECT count(*)::float8 AS sessions,
           count(DISTINCT x.visitor_key)::float8 AS visitors,
           (count(*) FILTER (WHERE x.converted))::float8 AS converted,
           (count(*) FILTER (WHERE x.event_count = 1))::float8 AS bounced,
           coalesce(avg(x.duration_seconds), 0)::float8 AS avg_duration_seconds
    FROM public.sessions x
    WHERE x.started_at >= b.lo AND x.started_at < b.hi
) s
ORDER BY b.period;
