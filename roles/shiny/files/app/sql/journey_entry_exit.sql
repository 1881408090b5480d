-- User journeys: how sessions started in $1..$2 begin and end (first and last event),
-- with how many of them converted.  The 25 most common pairs, of human sessions, or of
-- all with $3 (ranked after adding both classes).
SELECT x.first_event_name, x.last_event_name, sum(x.sessions)::float8 AS sessions,
       sum(x.converted)::float8 AS converted,
       (sum(x.events)::float8 / sum(x.sessions))::float8 AS avg_events
FROM public.daily_session_entry_exit x
WHERE x.day BETWEEN $1::date AND $2::date AND (NOT x.is_bot OR $3::boolean)
GROUP BY 1, 2
ORDER BY sessions DESC, 1, 2
LIMIT 25;
