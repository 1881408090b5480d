-- User journeys: the 15 most common paths over $1..$2 (the first four events of a
-- session within one UTC day, '→ …' when more followed), their share of all sessions
-- and how many converted.  Bot units only when $3, added before ranking and sharing.
SELECT p.path, sum(p.sessions)::float8 AS sessions, sum(p.converted)::float8 AS converted,
       (sum(p.sessions)::float8 / sum(sum(p.sessions)) OVER ()) AS share
FROM public.daily_session_paths p
WHERE p.day BETWEEN $1::date AND $2::date AND (NOT p.is_bot OR $3::boolean)
GROUP BY p.path
ORDER BY sessions DESC, p.path
LIMIT 15;
