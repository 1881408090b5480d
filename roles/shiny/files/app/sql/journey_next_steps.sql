-- User journeys: what follows each event within a session (one UTC day), over $1..$2;
-- '(exit)' when nothing follows.  The 30 most common pairs, with the share of the
-- event's next steps each takes.  Bot events' pairs only when $3, added before ranking.
WITH pairs AS (
    SELECT t.from_event_name, t.to_event_name, sum(t.transitions) AS transitions
    FROM public.daily_event_transitions t
    WHERE t.day BETWEEN $1::date AND $2::date AND (NOT t.is_bot OR $3::boolean)
    GROUP BY 1, 2
)
SELECT p.from_event_name, p.to_event_name, p.transitions::float8 AS transitions,
       (p.transitions::float8 / sum(p.transitions) OVER (PARTITION BY p.from_event_name))
           AS share
FROM pairs p
ORDER BY p.transitions DESC, 1, 2
LIMIT 30;
