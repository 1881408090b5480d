-- Funnel by day: sessions reaching each step in order, one row per step and day of
-- $1..$2 with data (the app lays the steps out as columns).
SELECT f.day::text AS day, f.step_no, f.step_name,
       f.sessions_in_order::float8 AS sessions_in_order
FROM public.daily_funnel f
WHERE f.day BETWEEN $1::date AND $2::date
ORDER BY f.day, f.step_no;
