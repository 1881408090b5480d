-- Funnel by day: sessions reaching each step in order, one row per day of $1..$2 with data.
SELECT f.day::text AS day,
       (sum(f.sessions_in_order) FILTER (WHERE f.step_no = 1))::float8 AS home_view,
       (sum(f.sessions_in_order) FILTER (WHERE f.step_no = 2))::float8 AS category_view,
       (sum(f.sessions_in_order) FILTER (WHERE f.step_no = 3))::float8 AS product_view,
       (sum(f.sessions_in_order) FILTER (WHERE f.step_no = 4))::float8 AS add_to_cart_click,
       (sum(f.sessions_in_order) FILTER (WHERE f.step_no = 5))::float8 AS checkout_start,
       (sum(f.sessions_in_order) FILTER (WHERE f.step_no = 6))::float8 AS checkout_complete
FROM public.daily_funnel f
WHERE f.day BETWEEN $1::date AND $2::date
GROUP BY f.day
ORDER BY f.day;
