-- Overview: events of $1..$2 by event name; events of a bot's user agent only when $3.
SELECT h.event_name, sum(h.events)::float8 AS events
FROM public.hourly_event_counts h
WHERE h.event_hour >= $1::date::timestamp AT TIME ZONE 'UTC'
  AND h.event_hour < ($2::date + 1)::timestamp AT TIME ZONE 'UTC'
  AND (NOT h.is_bot OR $3::boolean)
GROUP BY h.event_name
ORDER BY events DESC, h.event_name;
