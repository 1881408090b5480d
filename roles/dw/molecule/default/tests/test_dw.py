"""Verify the DW host: migrations, the ETL and Shiny roles, pg_hba, re-runnable schema."""

import pytest

from pg_testlib import READ_WRITE, admin, client, local_client, refused

MIGRATIONS = "/usr/local/share/clickstream-dw/migrations"
ETL = {
    "user": "etl_writer",
    "password": "molecule-etl-writer-password",
    "database": "clickstream_dw",
}
READER = {
    "user": "dw_reader",
    "password": "molecule-dw-reader-password",
    "database": "clickstream_dw",
}
EVENT = (
    "INSERT INTO clickstream_events (event_id, event_timestamp, event_name, "
    "event_timestamp_source, source_object_key, source_event_index) VALUES "
    "('molecule-{0}', now(), 'product_view', 'ingest', 'events/molecule.json', {0}) "
    "ON CONFLICT DO NOTHING"
)


@pytest.fixture(scope="module")
def etl_address(host):
    """The instance's own address: the one ETL CIDR (a /32) of this scenario."""
    return host.check_output("ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1")


def schema_dump(host, database="clickstream_dw"):
    """pg_dump --schema-only, less the random \\restrict key of newer pg_dump releases."""
    dump = host.check_output(f"runuser -u postgres -- pg_dump --schema-only -d {database}")
    keyed = ("\\restrict ", "\\unrestrict ")
    return "\n".join(line for line in dump.splitlines() if not line.startswith(keyed))


def apply_all(host, database):
    """Apply every migration file with psql -1 -f, one by one, whatever the ledger says."""
    return host.run(
        f"for f in {MIGRATIONS}/[0-9][0-9][0-9][0-9]_*.sql; do "
        f"runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -1 -d {database} -f $f "
        "|| exit 1; done"
    )


def test_every_migration_applied_once_in_name_order(host):
    files = host.check_output(f"ls {MIGRATIONS}").split()
    assert files == sorted(files)
    assert len(files) >= 4
    ledger = admin(
        host, "SELECT filename FROM schema_migrations ORDER BY filename", database="clickstream_dw"
    )
    assert ledger.split() == files


def test_migrations_applied_again_leave_the_schema_identical(host):
    before = schema_dump(host)
    result = apply_all(host, "clickstream_dw")
    assert result.rc == 0, result.stderr
    assert schema_dump(host) == before


def test_migrations_build_the_same_schema_on_an_empty_database(host):
    admin(host, "DROP DATABASE IF EXISTS molecule_empty")
    admin(host, "CREATE DATABASE molecule_empty TEMPLATE template0")
    try:
        result = apply_all(host, "molecule_empty")
        assert result.rc == 0, result.stderr
        assert schema_dump(host, "molecule_empty") == schema_dump(host)
    finally:
        admin(host, "DROP DATABASE molecule_empty")


def test_events_table_has_the_projection_and_kept_fields(host):
    columns = admin(
        host,
        "SELECT string_agg(column_name, ',') FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = 'clickstream_events'",
        database="clickstream_dw",
    ).split(",")
    for column in (
        "event_id",
        "event_timestamp",
        "event_name",
        "user_id",
        "user_login_state",
        "identity_source",
        "client_id",
        "session_id",
        "is_first_visit",
        "context_product_id",
        "context_product_price",
        "context_product_discount_price",
        "payload_extra",
        "ingest_metadata",
    ):
        assert column in columns


def test_roles_log_in_and_are_not_privileged(host):
    flags = admin(
        host,
        "SELECT rolname, rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls "
        "FROM pg_roles WHERE rolname IN ('etl_writer', 'dw_reader') ORDER BY 1",
    )
    assert flags.splitlines() == ["dw_reader|t|f|f|f|f", "etl_writer|t|f|f|f|f"]
    assert admin(host, "SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolsuper") == "postgres"


def test_public_cannot_connect_or_create(host):
    checks = admin(
        host,
        "SELECT has_database_privilege('public', 'clickstream_dw', 'CONNECT'), "
        "has_schema_privilege('public', 'public', 'CREATE')",
        database="clickstream_dw",
    )
    assert checks == "f|f"


def test_workload_is_tuned_for_a_warehouse(host):
    assert admin(host, "SHOW default_statistics_target") == "500"
    assert admin(host, "SHOW max_wal_size") == "2GB"


def test_etl_loads_over_tls_from_its_subnet(host, etl_address):
    ssl = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    result = client(host, **ETL, address=etl_address, sql=f"{EVENT.format(1)}; {ssl}")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "t"


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("DROP TABLE clickstream_events", "must be owner of table clickstream_events"),
        ("ALTER TABLE clickstream_events ADD COLUMN x int", "must be owner of table"),
        ("TRUNCATE clickstream_events", "permission denied for table clickstream_events"),
        ("DELETE FROM clickstream_events", "permission denied for table clickstream_events"),
        ("UPDATE clickstream_events SET event_name = 'x'", "permission denied for table"),
        ("CREATE TABLE public.mine (id int)", "permission denied for schema public"),
        ("CREATE INDEX ON clickstream_events (user_id)", "must be owner of table"),
        ("DELETE FROM schema_migrations", "permission denied for table schema_migrations"),
        ("DROP SCHEMA public CASCADE", "must be owner of schema public"),
    ],
)
def test_etl_cannot_drop_alter_or_delete(host, etl_address, sql, reason):
    result = client(host, **ETL, address=etl_address, sql=sql)
    assert refused(result, reason), result.stderr


def test_etl_from_elsewhere_or_without_tls_is_refused(host, etl_address):
    elsewhere = client(host, **ETL, address="127.0.0.1")
    assert refused(elsewhere, 'no pg_hba.conf entry for host "127.0.0.1"'), elsewhere.stderr
    plain = client(host, **ETL, address=etl_address, sslmode="disable")
    assert refused(plain, "no encryption"), plain.stderr


def test_shiny_reads_on_the_local_socket_and_over_tls(host, etl_address):
    assert client(host, **ETL, address=etl_address, sql=EVENT.format(2)).rc == 0
    sql = "SELECT count(*) > 0 FROM clickstream_events"
    socket = local_client(host, **READER, sql=sql)
    assert socket.rc == 0, socket.stderr
    assert socket.stdout.strip() == "t"
    tcp = client(host, **READER, address="127.0.0.1", sql=sql)
    assert tcp.rc == 0, tcp.stderr


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        (EVENT.format(3), "read-only transaction"),
        (
            [READ_WRITE, EVENT.format(3)],
            "permission denied for table clickstream_events",
        ),
        (
            [READ_WRITE, "DELETE FROM sessions"],
            "permission denied for table sessions",
        ),
        (
            [READ_WRITE, "CREATE TEMP TABLE t (id int)"],
            "permission denied to create temporary tables",
        ),
    ],
)
def test_shiny_cannot_write(host, sql, reason):
    result = local_client(host, **READER, sql=sql)
    assert refused(result, reason), result.stderr


def test_shiny_from_the_network_is_refused(host, etl_address):
    result = client(host, **READER, address=etl_address)
    assert refused(result, f'no pg_hba.conf entry for host "{etl_address}"'), result.stderr
