-- Product engagement by category over $1..$2; bot events only when $3.
SELECT coalesce(p.product_category, '(none)') AS category,
       sum(p.views)::float8 AS views, sum(p.add_to_cart)::float8 AS add_to_cart,
       sum(p.wishlist)::float8 AS wishlist, sum(p.converted_sessions)::float8 AS converted_sessions
FROM public.daily_product_engagement p
WHERE p.day BETWEEN $1::date AND $2::date AND (NOT p.is_bot OR $3::boolean)
GROUP BY 1
ORDER BY views DESC, category;
