-- Acquisition by source / medium: the 20 with most sessions started in $1..$2 (then in the
-- previous period), by their landing event (utm_source, else the referrer's host, else
-- (direct); utm_medium, else what the channel implies), with bounces, the revenue-bearing
-- steps and the previous period of the same length.  Bot sessions only when $3.
SELECT a.source, a.medium,
       coalesce(sum(a.sessions) FILTER (WHERE a.day >= $1::date), 0)::float8 AS sessions,
       coalesce(sum(a.bounced) FILTER (WHERE a.day >= $1::date), 0)::float8 AS bounced,
       coalesce(sum(a.add_to_cart) FILTER (WHERE a.day >= $1::date), 0)::float8 AS add_to_cart,
       coalesce(sum(a.checkout_started) FILTER (WHERE a.day >= $1::date), 0)::float8
           AS checkout_started,
       coalesce(sum(a.converted) FILTER (WHERE a.day >= $1::date), 0)::float8 AS converted,
       coalesce(sum(a.sessions) FILTER (WHERE a.day < $1::date), 0)::float8 AS previous_sessions,
       coalesce(sum(a.converted) FILTER (WHERE a.day < $1::date), 0)::float8
           AS previous_converted
FROM public.daily_acquisition a
WHERE a.day BETWEEN $1::date - ($2::date - $1::date + 1) AND $2::date
  AND (NOT a.is_bot OR $3::boolean)
GROUP BY a.source, a.medium
ORDER BY sessions DESC, previous_sessions DESC, a.source, a.medium
LIMIT 20;
