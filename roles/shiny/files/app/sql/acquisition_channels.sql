-- Acquisition by channel: sessions started in $1..$2 by their landing event's traffic
-- channel, with bounces, the revenue-bearing steps (sessions that added to the cart,
-- started a checkout, completed one) and the same figures for the period of the same
-- length just before it.  Bot sessions only when $3 (each class is a row of
-- daily_acquisition: their sum).
SELECT a.traffic_channel AS channel,
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
GROUP BY a.traffic_channel
ORDER BY sessions DESC, previous_sessions DESC, channel;
