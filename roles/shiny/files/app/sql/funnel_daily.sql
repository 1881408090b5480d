-- Funnel by day: sessions reaching each step in order, one row per step and day of
-- $1..$2 with data (the app lays the steps out as columns); with $3, the units of bot
-- events as well (daily_funnel holds each class in a row of its own: their sum).
SELECT f.day::text AS day, f.step_no, f.step_name,
       sum(f.sessions_in_order)::float8 AS sessions_in_order
FROM public.daily_funnel f
WHERE f.day BETWEEN $1::date AND $2::date AND (NOT f.is_bot OR $3::boolean)
GROUP BY f.day, f.step_no, f.step_name
ORDER BY f.day, f.step_no;
