"""Verify the OLTP host: the shop's database, Prisma's role, the read-only role, pg_hba."""

import pytest

from pg_testlib import READ_WRITE, admin, client, refused

APP = {"user": "shop_app", "password": "molecule-shop-app-password", "database": "shop"}
READER = {
    "user": "shop_readonly",
    "password": "molecule-shop-readonly-password",
    "database": "shop",
}


@pytest.fixture(scope="module")
def trusted(host):
    """The instance's own address: the one trusted CIDR (a /32) of this scenario."""
    return host.check_output("ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1")


@pytest.fixture(scope="module")
def orders(host, trusted):
    """A table the application creates the way Prisma's migrations do, with a row."""
    result = client(
        host,
        **APP,
        address=trusted,
        sql="CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, total bigint NOT NULL); "
        "INSERT INTO orders (total) VALUES (4200)",
    )
    assert result.rc == 0, result.stderr
    return "orders"


def test_application_creates_tables_in_its_schema_over_tls(host, trusted, orders):
    result = client(
        host,
        **APP,
        address=trusted,
        sql="SELECT relname, relnamespace::regnamespace, "
        "(SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()) "
        "FROM pg_class WHERE oid = 'orders'::regclass",
    )
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "orders|shop|t"


def test_application_owns_only_its_schema(host):
    owned = admin(
        host,
        "SELECT string_agg(nspname, ',') FROM pg_namespace WHERE nspowner = 'shop_app'::regrole",
        database="shop",
    )
    assert owned == "shop"
    assert admin(
        host, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'shop'"
    ) == ("postgres")
    flags = admin(
        host,
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls "
        "FROM pg_roles WHERE rolname IN ('shop_app', 'shop_readonly')",
    )
    assert flags.splitlines() == ["f|f|f|f|f", "f|f|f|f|f"]


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("CREATE TABLE public.sneaky (id int)", "permission denied for schema public"),
        ("CREATE DATABASE another", "permission denied to create database"),
        ("CREATE ROLE another", "permission denied to create role"),
    ],
)
def test_application_cannot_leave_its_schema(host, trusted, sql, reason):
    result = client(host, **APP, address=trusted, sql=sql)
    assert refused(result, reason), result.stderr


def test_readonly_reads_what_the_application_creates(host, trusted, orders):
    result = client(host, **READER, address=trusted, sql="SELECT total FROM orders LIMIT 1")
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "4200"


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("INSERT INTO orders (total) VALUES (1)", "read-only transaction"),
        (
            [READ_WRITE, "INSERT INTO orders (total) VALUES (1)"],
            "permission denied for table orders",
        ),
        (
            [READ_WRITE, "DELETE FROM orders"],
            "permission denied for table orders",
        ),
        (
            [READ_WRITE, "CREATE TABLE shop.mine (id int)"],
            "permission denied for schema shop",
        ),
    ],
)
def test_readonly_cannot_write(host, trusted, orders, sql, reason):
    result = client(host, **READER, address=trusted, sql=sql)
    assert refused(result, reason), result.stderr


def test_public_cannot_connect_or_create(host):
    checks = admin(
        host,
        "SELECT has_database_privilege('public', 'shop', 'CONNECT'), "
        "has_database_privilege('public', 'shop', 'TEMPORARY'), "
        "has_schema_privilege('public', 'public', 'CREATE'), "
        "has_schema_privilege('public', 'shop', 'USAGE')",
        database="shop",
    )
    assert checks == "f|f|f|f"


def test_without_tls_is_refused(host, trusted):
    result = client(host, **APP, address=trusted, sslmode="disable")
    assert refused(result, "no encryption"), result.stderr


def test_untrusted_address_is_refused(host):
    """127.0.0.1 is not in oltp_trusted_cidrs: the right password does not help."""
    result = client(host, **APP, address="127.0.0.1")
    assert refused(result, 'no pg_hba.conf entry for host "127.0.0.1"'), result.stderr


def test_hba_lists_only_the_trusted_cidrs(host, trusted):
    rules = admin(
        host,
        "SELECT type, array_to_string(database, ','), array_to_string(user_name, ','), "
        "coalesce(address, ''), coalesce(netmask, ''), auth_method FROM pg_hba_file_rules "
        "ORDER BY line_number",
    ).splitlines()
    assert rules == [
        "local|all|postgres|||peer",
        f"hostssl|shop|shop_app,shop_readonly|{trusted}|255.255.255.255|scram-sha-256",
    ]
