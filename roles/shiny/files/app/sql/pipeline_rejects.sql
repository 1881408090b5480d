-- Pipeline health: the 25 most recent rejected objects and events, with the reason.
SELECT to_char(j.rejected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS rejected,
       j.run_id::float8 AS run_id, j.object_key,
       coalesce(j.event_index::text, 'object') AS event, j.reason, coalesce(j.excerpt, '') AS excerpt
FROM public.etl_rejects j
ORDER BY j.reject_id DESC
LIMIT 25;
