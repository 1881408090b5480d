"""The DW schema migrations against a real PostgreSQL: they apply to an empty cluster
one by one with ``psql -1 -f``, re-running them changes nothing, and the two roles
get exactly the privileges they need."""

from __future__ import annotations

import psycopg2
import pytest

from clickstream_tools import pgcluster as pg_fixture
from etl_test_helpers import ETL_PASSWORD, MIGRATIONS, READER_PASSWORD

pytestmark = pytest.mark.integration


def test_migrations_apply_to_an_empty_cluster_and_rerun_leaves_the_schema_identical() -> None:
    with pg_fixture.running_postgres() as server:
        server.create_database("clickstream_dw")
        applied = pg_fixture.apply_migrations(server, "clickstream_dw", MIGRATIONS)
        first = server.pg_dump_schema("clickstream_dw")
        pg_fixture.apply_migrations(server, "clickstream_dw", MIGRATIONS)
        pg_fixture.apply_migrations(server, "clickstream_dw", MIGRATIONS)
        second = server.pg_dump_schema("clickstream_dw")

        assert applied == sorted(applied)
        assert applied[0].startswith("0001_")
        assert first == second
        assert "CREATE TABLE public.clickstream_events" in first.replace('"', "")
        recorded = server.psql(
            "clickstream_dw",
            "-At",
            "-c",
            "SELECT filename || ':' || count(*) FROM schema_migrations"
            " GROUP BY filename ORDER BY filename",
        ).stdout.split()
        assert recorded == [f"{name}:1" for name in applied]
        roles = server.psql(
            "postgres",
            "-At",
            "-c",
            "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles"
            " WHERE rolname IN ('etl_writer', 'dw_reader') ORDER BY 1",
        ).stdout.split()
        assert roles == ["dw_reader|f|f|f|f", "etl_writer|f|f|f|f"]


def test_rerunning_migrations_keeps_role_logins_and_passwords(dw) -> None:
    pg_fixture.apply_migrations(dw.server, dw.name, MIGRATIONS)
    conn = dw.connect("etl_writer", ETL_PASSWORD)
    conn.close()


def test_each_file_is_a_single_transaction(dw, tmp_path) -> None:
    """A failing file leaves nothing behind (psql -1): the DW role can retry it."""
    broken = tmp_path / "0099_broken.sql"
    broken.write_text("CREATE TABLE public.half_done (id int);\nSELECT no_such_function();\n")
    result = dw.server.psql(dw.name, "-1", "-f", str(broken), check=False)
    assert result.returncode != 0
    assert dw.scalar("SELECT to_regclass('public.half_done') IS NULL") is True


def assert_refused(database, role: str, password: str, statement: str) -> None:
    """The statement fails for the role with insufficient_privilege (42501)."""
    conn = database.connect(role, password)
    try:
        with pytest.raises(psycopg2.Error) as caught, conn.cursor() as cur:
            cur.execute(statement)
        assert caught.value.pgcode == "42501", caught.value
    finally:
        conn.close()


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE public.x (id int)",
        "DROP TABLE public.clickstream_events",
        "ALTER TABLE public.clickstream_events ADD COLUMN x int",
        "TRUNCATE public.clickstream_events",
        "DELETE FROM public.clickstream_events",
        "UPDATE public.clickstream_events SET event_name = 'x'",
        "DELETE FROM public.etl_manifest",
        "UPDATE public.etl_manifest SET object_key = 'x'",
        "UPDATE public.etl_manifest SET etag = 'x', row_count = 0",
        "UPDATE public.etl_manifest SET run_id = 1",
        "DROP TABLE public.etl_manifest",
        "CREATE INDEX x ON public.clickstream_events (event_name)",
        "INSERT INTO public.schema_migrations (filename) VALUES ('9999_x.sql')",
    ],
)
def test_etl_writer_cannot_do_ddl_or_rewrite_history(dw_readonly, statement: str) -> None:
    assert_refused(dw_readonly, "etl_writer", ETL_PASSWORD, statement)


def test_etl_writer_may_set_only_a_manifest_rows_counts(dw_readonly) -> None:
    """An object loaded in parts gets its counts after its last part (0007)."""
    conn = dw_readonly.connect("etl_writer", ETL_PASSWORD)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "UPDATE public.etl_manifest SET row_count = 1, reject_count = 2"
                " WHERE object_key = 'k' AND etag = 'e'"
            )
            assert cur.rowcount == 0
    finally:
        conn.close()


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO public.clickstream_events (event_id, event_timestamp, event_name,"
        " event_timestamp_source, source_object_key, source_event_index)"
        " VALUES ('x', now(), 'x', 's3', 'k', 0)",
        "UPDATE public.sessions SET event_count = 0",
        "DELETE FROM public.hourly_event_counts",
        "DELETE FROM public.daily_visitors",
        "UPDATE public.hourly_sessions SET sessions = 0",
        "INSERT INTO public.etl_runs (trigger, hours) VALUES ('manual', '{}')",
        "CREATE TEMPORARY TABLE t (id int)",
        "CREATE TABLE public.x (id int)",
    ],
)
def test_dw_reader_is_read_only(dw_readonly, statement: str) -> None:
    assert_refused(dw_readonly, "dw_reader", READER_PASSWORD, statement)


MIGRATION_DATA = {"schema_migrations", "funnel_steps"}


def test_dw_reader_reads_every_table(dw_readonly) -> None:
    tables = [
        row[0]
        for row in dw_readonly.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
    ]
    assert {"clickstream_events", "sessions", "daily_funnel", "hourly_sessions"} <= set(tables)
    conn = dw_readonly.connect("dw_reader", READER_PASSWORD)
    try:
        with conn.cursor() as cur:
            for table in tables:
                cur.execute(f"SELECT count(*) FROM public.{table}")  # noqa: S608 - catalog names
                (rows,) = cur.fetchone()
                # the migrations' own rows: their ledger and the funnel's steps
                assert rows > 0 if table in MIGRATION_DATA else rows == 0, table
    finally:
        conn.close()


def test_public_cannot_connect_and_roles_have_database_privileges(dw_readonly) -> None:
    public_entries = dw_readonly.scalar(
        "SELECT count(*) FROM pg_database d, aclexplode(d.datacl) a"
        " WHERE d.datname = current_database() AND a.grantee = 0"
    )
    assert public_entries == 0
    privileges = dw_readonly.query(
        "SELECT has_database_privilege('etl_writer', current_database(), 'CONNECT'),"
        " has_database_privilege('etl_writer', current_database(), 'TEMPORARY'),"
        " has_database_privilege('dw_reader', current_database(), 'CONNECT'),"
        " has_database_privilege('dw_reader', current_database(), 'TEMPORARY'),"
        " has_database_privilege('dw_reader', current_database(), 'CREATE')"
    )
    assert privileges == [(True, True, True, False, False)]


def test_every_run_counter_has_its_column_and_batch_counts_are_run_counters() -> None:
    from dataclasses import fields

    from clickstream_etl import etl_db

    with pg_fixture.running_postgres() as server:
        server.create_database("clickstream_dw")
        pg_fixture.apply_migrations(server, "clickstream_dw", MIGRATIONS)
        columns = server.psql(
            "clickstream_dw",
            "-At",
            "-c",
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = 'etl_runs'",
        ).stdout.split()
    assert set(etl_db.RUN_COUNTERS) <= set(columns)
    assert {f.name for f in fields(etl_db.BatchResult)} <= set(etl_db.RUN_COUNTERS)
