-- Pipeline health (not filtered by dates): newest loaded hour and how far behind now it
-- is, hours waiting for their rollups, the last successful run, failures in 24 hours,
-- and the events the runs of those 24 hours loaded and rejected.
SELECT to_char(m.newest_hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24') AS newest_hour,
       extract(epoch FROM now() - (m.newest_hour + interval '1 hour'))::float8 / 3600
           AS lag_hours,
       (SELECT count(*) FROM public.etl_pending_rollups)::float8 AS pending_rollup_hours,
       (SELECT to_char(max(r.finished_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')
          FROM public.etl_runs r WHERE r.status = 'succeeded') AS last_success,
       (SELECT count(*) FROM public.etl_runs r
         WHERE r.status = 'failed' AND r.started_at > now() - interval '24 hours')::float8
           AS failed_24h,
       (SELECT count(*) FROM public.etl_runs r
         WHERE r.status = 'running' AND r.started_at < now() - interval '1 hour')::float8
           AS stuck_runs,
       (SELECT coalesce(sum(r.rows_inserted), 0) FROM public.etl_runs r
         WHERE r.started_at > now() - interval '24 hours')::float8 AS events_loaded_24h,
       (SELECT coalesce(sum(r.events_rejected), 0) FROM public.etl_runs r
         WHERE r.started_at > now() - interval '24 hours')::float8 AS events_rejected_24h
FROM (SELECT max(e.object_hour) AS newest_hour FROM public.etl_manifest e) m;
