-- Pipeline health: the 25 most recent ETL runs, their objects and their events (events_read:
-- the events of the objects a run loaded, valid or rejected; 0 before migration 0007).
SELECT r.run_id::float8 AS run_id,
       to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS started,
       r.trigger, r.status,
       to_char((SELECT min(h) FROM unnest(r.hours) AS h) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24')
           || ' .. '
           || to_char((SELECT max(h) FROM unnest(r.hours) AS h) AT TIME ZONE 'UTC',
                      'YYYY-MM-DD"T"HH24') AS hours,
       r.objects_seen::float8 AS objects_seen, r.objects_loaded::float8 AS objects_loaded,
       r.objects_rejected::float8 AS objects_rejected,
       r.events_read::float8 AS events_read,
       r.events_rejected::float8 AS events_rejected,
       r.rows_inserted::float8 AS rows_inserted, r.rows_duplicate::float8 AS rows_duplicate,
       r.duration_ms::float8 AS duration_ms, coalesce(r.error, '') AS error
FROM public.etl_runs r
ORDER BY r.run_id DESC
LIMIT 25;
