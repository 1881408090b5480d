-- User journeys: sessions started in $1..$2 by number of events, and how many converted;
-- bot sessions only when $3.
SELECT CASE WHEN d.depth >= 20 THEN '20+' ELSE d.depth::text END AS depth,
       d.depth::integer AS depth_order,
       sum(d.sessions)::float8 AS sessions, sum(d.converted)::float8 AS converted
FROM public.daily_session_depth d
WHERE d.day BETWEEN $1::date AND $2::date AND (NOT d.is_bot OR $3::boolean)
GROUP BY d.depth
ORDER BY d.depth;
