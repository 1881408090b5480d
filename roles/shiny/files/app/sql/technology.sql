-- Technology: sessions started in $1..$2 by their landing event's device type, browser
-- family and OS family (one row per dimension and value; (unknown) when the user agent
-- did not say), with the revenue-bearing steps.  Bot sessions only when $3 (each class
-- is a row of daily_technology: their sum).
SELECT CASE WHEN grouping(t.device_type) = 0 THEN 'device'
            WHEN grouping(t.browser_family) = 0 THEN 'browser' ELSE 'os' END AS dimension,
       coalesce(t.device_type, t.browser_family, t.os_family) AS value,
       sum(t.sessions)::float8 AS sessions,
       sum(t.add_to_cart)::float8 AS add_to_cart,
       sum(t.checkout_started)::float8 AS checkout_started,
       sum(t.converted)::float8 AS converted
FROM public.daily_technology t
WHERE t.day BETWEEN $1::date AND $2::date AND (NOT t.is_bot OR $3::boolean)
GROUP BY GROUPING SETS ((t.device_type), (t.browser_family), (t.os_family))
ORDER BY 1, sessions DESC, value;
