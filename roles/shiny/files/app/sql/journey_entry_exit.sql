-- User journeys: how sessions started in $1..$2 begin and end (first and last event),
-- with how many of them converted.  The 25 most common pairs.
SELECT s.first_event_name, s.last_event_name, count(*)::float8 AS sessions,
       (count(*) FILTER (WHERE s.converted))::float8 AS converted,
       avg(s.event_count)::float8 AS avg_events
FROM public.sessions s
WHERE s.started_at >= $1::date::timestamp AT TIME ZONE 'UTC'
  AND s.started_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
GROUP BY 1, 2
ORDER BY sessions DESC, 1, 2
LIMIT 25;
