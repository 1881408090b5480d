-- 0007: raw objects of many events (issue #14: newline-delimited, gzip, objects of any
-- size that the ETL loads part by part).
--
-- Runs count the events they read, as well as the objects: events_read is every event
-- of the objects a run loaded, valid or rejected (rows_inserted + rows_duplicate +
-- events_rejected), what the run table, the rerun's summary and Pipeline health show.
ALTER TABLE public.etl_runs ADD COLUMN IF NOT EXISTS events_read bigint NOT NULL DEFAULT 0;
COMMENT ON COLUMN public.etl_runs.events_read IS
    'Events in the objects this run loaded, valid or rejected (0 for runs before 0007).';

-- An object read in several parts is loaded in one transaction: its manifest row is
-- inserted first (the claim, with counts of 0), its events and rejects follow part by
-- part, and its counts are written last, before the commit.  etl_writer may change
-- those two columns only: never the key, ETag, run or time of a manifest row.
GRANT UPDATE (row_count, reject_count) ON public.etl_manifest TO etl_writer;

INSERT INTO public.schema_migrations (filename) VALUES ('0007_etl_events_read.sql')
ON CONFLICT (filename) DO NOTHING;
