-- User journeys: the 15 most common entry pages of sessions started in $1..$2, with
-- their bounce rate (one event), conversion and most common exit page.
SELECT coalesce(s.entry_page, '(unknown)') AS entry_page, count(*)::float8 AS sessions,
       (count(*) FILTER (WHERE s.event_count = 1))::float8 AS bounced,
       (count(*) FILTER (WHERE s.converted))::float8 AS converted,
       avg(s.duration_seconds)::float8 AS avg_duration_seconds,
       mode() WITHIN GROUP (ORDER BY s.exit_page) AS top_exit_page
FROM public.sessions s
WHERE s.started_at >= $1::date::timestamp AT TIME ZONE 'UTC'
  AND s.started_at < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
GROUP BY 1
ORDER BY sessions DESC, 1
LIMIT 15;
