-- User journeys: sessions started in $1..$2 by number of events, and how many converted.
SELECT CASE WHEN s.event_count >= 20 THEN '20+' ELSE s.event_count::text END AS depth,
       least(s.event_count, 20) AS depth_order,
       count(*)::float8 AS sessions, (count(*) FILTER (WHERE s.converted))::float8 AS converted
FROM public.sessions s
WHERE s.started_at >= $1::date::timestamp AT TIME ZONE 'UTC'
  AND s.started_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
GROUP BY 1, 2
ORDER BY 2;
