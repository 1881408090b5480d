-- Pipeline health: how much of $1..$2 is bots, whatever the switch: events of a bot's user
-- agent (hourly_event_counts) and sessions that are bots by an event's user agent or by
-- their behaviour (hourly_sessions), next to all of them.
WITH range AS (
    SELECT $1::date::timestamp AT TIME ZONE 'UTC' AS lo,
           ($2::date + 1)::timestamp AT TIME ZONE 'UTC' AS hi
)
SELECT e.events, e.bot_events, s.sessions, s.bot_sessions
FROM (SELECT coalesce(sum(h.events), 0)::float8 AS events,
             coalesce(sum(h.events) FILTER (WHERE h.is_bot), 0)::float8 AS bot_events
        FROM public.hourly_event_counts h, range r
       WHERE h.event_hour >= r.lo AND h.event_hour < r.hi) e,
     (SELECT coalesce(sum(x.sessions), 0)::float8 AS sessions,
             coalesce(sum(x.sessions) FILTER (WHERE x.is_bot), 0)::float8 AS bot_sessions
        FROM public.hourly_sessions x, range r
       WHERE x.session_hour >= r.lo AND x.session_hour < r.hi) s;
