-- Overview chart by hour: events, sessions started and their distinct visitors per UTC
-- hour of $1..$2.  Bots only when $3: events by their user agent, sessions and visitors
-- by the session's class (hourly_sessions holds a row per class: their sum).
WITH range AS (
    SELECT $1::date::timestamp AT TIME ZONE 'UTC' AS lo,
           ($2::date + 1)::timestamp AT TIME ZONE 'UTC' AS hi
), ev AS (
    SELECT h.event_hour AS hour, sum(h.events) AS events
    FROM public.hourly_event_counts h, range r
    WHERE h.event_hour >= r.lo AND h.event_hour < r.hi AND (NOT h.is_bot OR $3::boolean)
    GROUP BY 1
), se AS (
    SELECT s.session_hour AS hour, sum(s.sessions) AS sessions, sum(s.visitors) AS visitors
    FROM public.hourly_sessions s, range r
    WHERE s.session_hour >= r.lo AND s.session_hour < r.hi AND (NOT s.is_bot OR $3::boolean)
    GROUP BY 1
)
SELECT to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:00') AS period,
       coalesce(ev.events, 0)::float8 AS events, coalesce(se.sessions, 0)::float8 AS sessions,
       coalesce(se.visitors, 0)::float8 AS visitors
FROM ev FULL JOIN se USING (hour)
ORDER BY hour;
