-- 0003: what makes the ETL exactly-once and observable: runs, the manifest of loaded
-- objects, rejects, and the hours whose rollups still have to be recomputed.

CREATE TABLE IF NOT EXISTS public.etl_runs (
    run_id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    trigger                 text        NOT NULL,
    request_id              text,
    hours                   timestamptz[] NOT NULL,
    dry_run                 boolean     NOT NULL DEFAULT false,
    status                  text        NOT NULL DEFAULT 'running',
    objects_seen            integer     NOT NULL DEFAULT 0,
    objects_loaded          integer     NOT NULL DEFAULT 0,
    objects_already_loaded  integer     NOT NULL DEFAULT 0,
    objects_rejected        integer     NOT NULL DEFAULT 0,
    objects_failed          integer     NOT NULL DEFAULT 0,
    events_rejected         integer     NOT NULL DEFAULT 0,
    rows_inserted           integer     NOT NULL DEFAULT 0,
    rows_duplicate          integer     NOT NULL DEFAULT 0,
    error                   text,
    started_at              timestamptz NOT NULL DEFAULT now(),
    finished_at             timestamptz,
    duration_ms             integer,
    CONSTRAINT etl_runs_trigger CHECK (trigger IN ('schedule', 'manual')),
    CONSTRAINT etl_runs_status CHECK (status IN ('running', 'succeeded', 'failed'))
);
COMMENT ON TABLE public.etl_runs IS
    'One row per ETL invocation; a run left in status running was cut off (database lost, timeout).';
CREATE INDEX IF NOT EXISTS etl_runs_started_at ON public.etl_runs (started_at);

-- One row per S3 object version loaded; written in the same transaction as the
-- object's events and rejects, so an object is loaded exactly once.
CREATE TABLE IF NOT EXISTS public.etl_manifest (
    object_key      text        NOT NULL,
    etag            text        NOT NULL,
    object_hour     timestamptz NOT NULL,
    last_modified   timestamptz,
    size_bytes      bigint,
    row_count       integer     NOT NULL,
    reject_count    integer     NOT NULL,
    run_id          bigint      NOT NULL REFERENCES public.etl_runs (run_id),
    loaded_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT etl_manifest_pkey PRIMARY KEY (object_key, etag)
);
COMMENT ON COLUMN public.etl_manifest.row_count IS
    'Valid events in the object (inserted or already present under the same event_id).';
CREATE INDEX IF NOT EXISTS etl_manifest_object_hour ON public.etl_manifest (object_hour);
CREATE INDEX IF NOT EXISTS etl_manifest_run_id ON public.etl_manifest (run_id);

-- A malformed object (event_index NULL) or event (its index in the object).
CREATE TABLE IF NOT EXISTS public.etl_rejects (
    reject_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    object_key      text        NOT NULL,
    etag            text        NOT NULL,
    event_index     integer,
    reason          text        NOT NULL,
    excerpt         text,
    run_id          bigint      NOT NULL REFERENCES public.etl_runs (run_id),
    rejected_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT etl_rejects_object FOREIGN KEY (object_key, etag)
        REFERENCES public.etl_manifest (object_key, etag)
);
CREATE UNIQUE INDEX IF NOT EXISTS etl_rejects_once
    ON public.etl_rejects (object_key, etag, (coalesce(event_index, -1)));
CREATE INDEX IF NOT EXISTS etl_rejects_run_id ON public.etl_rejects (run_id);

-- Hours whose rollups are stale: filled with the load, emptied by the rollup step
-- in its own transaction, so a failed rollup step is finished by the next run.
CREATE TABLE IF NOT EXISTS public.etl_pending_rollups (
    event_hour  timestamptz PRIMARY KEY,
    queued_at   timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT, UPDATE ON public.etl_runs TO etl_writer;
GRANT SELECT, INSERT ON public.etl_manifest, public.etl_rejects TO etl_writer;
GRANT SELECT, INSERT, DELETE ON public.etl_pending_rollups TO etl_writer;
GRANT SELECT ON public.etl_runs, public.etl_manifest, public.etl_rejects, public.etl_pending_rollups
    TO dw_reader;

INSERT INTO public.schema_migrations (filename) VALUES ('0003_etl_bookkeeping.sql')
ON CONFLICT (filename) DO NOTHING;
