-- 0001: the migration ledger, the two application roles, database-level privileges.
--
-- Applied with `psql -1 -v ON_ERROR_STOP=1 -f` inside the clickstream_dw database by a
-- role that may create roles (postgres).  Safe to re-run: every statement is guarded.

CREATE TABLE IF NOT EXISTS public.schema_migrations (
    filename   text PRIMARY KEY
               CONSTRAINT schema_migrations_filename_format CHECK (filename ~ '^[0-9]{4}_[a-z0-9_]+\.sql$'),
    applied_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.schema_migrations IS
    'One row per migration file of roles/dw/files/migrations, written by the file itself in the same transaction.';

-- Roles are cluster-wide: create them only when missing, NOLOGIN.  The DW role sets
-- LOGIN and the passwords afterwards; re-running this file never resets them.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'etl_writer') THEN
        CREATE ROLE etl_writer NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'dw_reader') THEN
        CREATE ROLE dw_reader NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
    END IF;
END
$roles$;

-- Nobody but the named roles reaches this database; the ETL needs TEMP for its
-- staging table, the dashboards do not.
DO $database$
BEGIN
    EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO etl_writer', current_database());
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO dw_reader', current_database());
END
$database$;

-- No DDL for anyone but the owner: PUBLIC loses CREATE on the public schema
-- (already the default since PostgreSQL 15; explicit for older servers).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO etl_writer, dw_reader;

GRANT SELECT ON public.schema_migrations TO dw_reader;

INSERT INTO public.schema_migrations (filename) VALUES ('0001_migrations_and_roles.sql')
ON CONFLICT (filename) DO NOTHING;
