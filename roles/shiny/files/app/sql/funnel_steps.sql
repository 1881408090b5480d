-- Funnel: each step over $1..$2 (session units per day, summed over the days):
-- sessions that reached it after every previous step, sessions with it at all, events.
-- With $3, bot events' units too (each class is a row of daily_funnel: their sum).
SELECT f.step_no, f.step_name,
       sum(f.sessions_in_order)::float8 AS sessions_in_order,
       sum(f.sessions)::float8 AS sessions,
       sum(f.events)::float8 AS events
FROM public.daily_funnel f
WHERE f.day BETWEEN $1::date AND $2::date AND (NOT f.is_bot OR $3::boolean)
GROUP BY f.step_no, f.step_name
ORDER BY f.step_no;
