-- Every tab: the first and last UTC hour with loaded events (NULL when the DW is empty).
SELECT to_char(min(h.event_hour) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') AS first_hour,
       to_char(max(h.event_hour) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') AS last_hour
FROM public.hourly_event_counts h;
