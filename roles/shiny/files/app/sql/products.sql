-- Product engagement over $1..$2, one row per product.  Viewers are summed over days
-- (a visitor viewing on two days counts twice); converted sessions touched the product
-- and completed a checkout the same day.  Bot events only when $3 (each class is a row of
-- daily_product_engagement per day: their sum).
SELECT p.product_id,
       (array_agg(p.product_name ORDER BY p.day DESC) FILTER (WHERE p.product_name IS NOT NULL))[1]
           AS product_name,
       (array_agg(p.product_category ORDER BY p.day DESC)
           FILTER (WHERE p.product_category IS NOT NULL))[1] AS category,
       (array_agg(p.product_brand ORDER BY p.day DESC) FILTER (WHERE p.product_brand IS NOT NULL))[1]
           AS brand,
       sum(p.views)::float8 AS views,
       sum(p.unique_viewers)::float8 AS viewers,
       sum(p.add_to_cart)::float8 AS add_to_cart,
       sum(p.remove_from_cart)::float8 AS remove_from_cart,
       sum(p.wishlist)::float8 AS wishlist,
       sum(p.checkout_starts)::float8 AS checkout_starts,
       sum(p.checkouts_completed)::float8 AS checkouts_completed,
       sum(p.converted_sessions)::float8 AS converted_sessions
FROM public.daily_product_engagement p
WHERE p.day BETWEEN $1::date AND $2::date AND (NOT p.is_bot OR $3::boolean)
GROUP BY p.product_id
ORDER BY views DESC, p.product_id;
