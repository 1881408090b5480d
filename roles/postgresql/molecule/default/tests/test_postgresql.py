"""Verify the postgresql role: CIS PostgreSQL / dev-sec baseline checks and real connections."""

import re

import pytest

from pg_testlib import CONFIG_DIR, DATA_DIR, LOG_FILE, admin, client, refused, setting

HBA_CHECK = "/usr/local/lib/clickstream-postgresql/pg_hba_check.py"
BACKUPS = "/var/backups/postgresql"
LIST_BUCKET = """
import boto3
s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:4566", region_name="us-east-1",
                  aws_access_key_id="testing", aws_secret_access_key="testing")
for item in s3.list_objects_v2(Bucket="molecule-backups").get("Contents", []):
    print(item["Key"])
"""
APP = {"user": "app_user", "password": "molecule-app-password", "database": "appdb"}


@pytest.fixture(scope="module")
def own_address(host):
    """The instance's network address: pg_hba allows app_user only from 127.0.0.1."""
    return host.check_output("ip -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1")


def test_server_runs_and_listens_where_asked(host, own_address):
    service = host.service("postgresql@15-main")
    assert service.is_running
    assert service.is_enabled
    assert host.socket("tcp://127.0.0.1:5432").is_listening
    assert host.socket(f"tcp://{own_address}:5432").is_listening
    assert not host.socket("tcp://0.0.0.0:5432").is_listening
    assert setting(host, "listen_addresses") == f"localhost,{own_address}"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ssl", "on"),
        ("password_encryption", "scram-sha-256"),
        ("ssl_min_protocol_version", "TLSv1.2"),
        ("fsync", "on"),
        ("full_page_writes", "on"),
        ("synchronous_commit", "on"),
        ("data_checksums", "on"),
        ("log_connections", "on"),
        ("log_disconnections", "on"),
        ("log_min_duration_statement", "500ms"),
        ("log_statement", "ddl"),
        ("log_lock_waits", "on"),
        ("random_page_cost", "1.1"),
    ],
)
def test_setting(host, name, expected):
    assert setting(host, name) == expected


def test_log_line_prefix(host):
    quoted = admin(host, "SELECT quote_literal(current_setting('log_line_prefix'))")
    assert quoted == "'%m [%p] %q%u@%d from %h app=%a '"


def test_memory_tuning_follows_the_hosts_memory(host):
    """shared_buffers 25%, effective_cache_size 75%, work_mem and WAL by the documented formulas."""
    meminfo = host.file("/proc/meminfo").content_string
    memory_mb = int(re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE).group(1)) // 1024
    shared = memory_mb * 25 // 100
    max_wal = max(1024, min(8192, memory_mb // 4))

    def mb(name):
        return int(admin(host, f"SELECT pg_size_bytes(current_setting('{name}')) / 1048576"))

    assert abs(mb("shared_buffers") - shared) <= 1
    assert abs(mb("effective_cache_size") - memory_mb * 75 // 100) <= 1
    assert mb("work_mem") == max(4, (memory_mb - shared) // 300)
    assert mb("maintenance_work_mem") == min(2048, memory_mb // 16)
    assert mb("max_wal_size") == max_wal
    assert mb("min_wal_size") == max_wal // 4


def test_settings_come_from_the_role_not_elsewhere(host):
    """No error in any configuration file, and ALTER SYSTEM has overridden nothing."""
    errors = admin(host, "SELECT count(*) FROM pg_file_settings WHERE error IS NOT NULL")
    assert errors == "0"
    assert host.file(f"{DATA_DIR}/postgresql.auto.conf").content_string.count("=") == 0


def test_only_scram_over_tls_or_the_local_socket(host):
    rules = admin(
        host,
        "SELECT type, array_to_string(user_name, ','), auth_method, coalesce(error, '') "
        "FROM pg_hba_file_rules ORDER BY line_number",
    ).splitlines()
    assert rules, "pg_hba.conf has no rules"
    for rule in rules:
        kind, users, method, error = rule.split("|")
        assert error == ""
        assert method not in {"trust", "password", "md5", "ident", "reject"}
        if (kind, users, method) != ("local", "postgres", "peer"):
            assert kind in {"hostssl", "local"}
            assert method == "scram-sha-256"


def test_passwords_are_stored_as_scram(host):
    hashes = admin(
        host,
        "SELECT rolname || ' ' || left(rolpassword, 14) FROM pg_authid "
        "WHERE rolpassword IS NOT NULL",
    )
    assert hashes
    for line in hashes.splitlines():
        assert line.split()[1] == "SCRAM-SHA-256$", line


def test_files_are_private(host):
    data = host.file(DATA_DIR)
    assert data.user == "postgres"
    assert data.mode == 0o700
    readable = host.check_output(f"find {CONFIG_DIR} /etc/postgresql/ssl -perm /o=rwx")
    assert readable == ""
    key = host.file("/etc/postgresql/ssl/server.key")
    assert key.user == "postgres"
    assert key.mode == 0o600


def test_no_superuser_but_postgres(host):
    assert admin(host, "SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolsuper") == "postgres"


def test_public_may_not_create_in_public_nor_connect(host):
    checks = admin(
        host,
        "SELECT has_schema_privilege('public', 'public', 'CREATE'), "
        "has_database_privilege('public', 'appdb', 'CONNECT'), "
        "has_database_privilege('public', 'appdb', 'TEMPORARY')",
        database="appdb",
    )
    assert checks == "f|f|f"


def test_application_connects_over_tls_with_its_password(host):
    result = client(
        host, **APP, sql="SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    )
    assert result.rc == 0, result.stderr
    ssl, version = result.stdout.strip().split("|")
    assert ssl == "t"
    assert version in {"TLSv1.2", "TLSv1.3"}


def test_certificate_names_the_host(host):
    text = host.check_output("openssl x509 -in /etc/postgresql/ssl/server.crt -noout -text")
    assert "IP Address:127.0.0.1" in text
    assert "DNS:localhost" in text


def test_connection_without_tls_is_refused(host):
    result = client(host, **APP, sslmode="disable")
    assert refused(result, "no encryption"), result.stderr


def test_connection_from_an_address_not_listed_is_refused(host, own_address):
    """The same user and password, from the instance's network address instead of 127.0.0.1."""
    result = client(host, **APP, address=own_address)
    assert refused(result, f'no pg_hba.conf entry for host "{own_address}"'), result.stderr


def test_user_not_listed_is_refused(host):
    result = client(host, user="stranger", password="molecule-stranger-password", database="appdb")
    assert refused(result, "no pg_hba.conf entry"), result.stderr


def test_wrong_password_is_refused(host):
    result = client(host, user="app_user", password="not-the-password", database="appdb")
    assert refused(result, "password authentication failed"), result.stderr


def test_connections_are_logged_with_the_prefix(host):
    assert client(host, **APP).rc == 0
    log = host.file(LOG_FILE).content_string
    prefix = (
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC \[\d+\] app_user@appdb from 127\.0\.0\.1 app="
    )
    authorized = "LOG:  connection authorized: user=app_user database=appdb application_name=psql"
    lines = [line for line in log.splitlines() if "connection authorized: user=app_user" in line]
    assert re.search(prefix + r"\S* " + authorized + " SSL enabled", log), lines[-3:]
    assert re.search(prefix + r"psql LOG:  disconnection: session time:", log)


@pytest.mark.parametrize(
    "line",
    [
        "host all all 0.0.0.0/0 scram-sha-256",
        "hostssl all all 0.0.0.0/0 trust",
        "hostssl all all 10.0.0.0/33 scram-sha-256",
        "local all all md5",
        "hostssl all all 10.0.0.1 scram-sha-256",
    ],
)
def test_hba_checker_refuses_weak_rules(host, line):
    """The check `validate:` runs before pg_hba.conf is replaced."""
    result = host.run(
        f"f=$(mktemp) && echo '{line}' > $f && python3 {HBA_CHECK} $f; rc=$?; rm -f $f; exit $rc"
    )
    assert result.rc == 1, result.stdout + result.stderr


def test_settings_check_refuses_a_bad_value(host):
    """The check `validate:` runs before the settings file is replaced."""
    result = host.run(
        "f=$(mktemp) && echo \"shared_buffers = 'lots'\" > $f && "
        f"/usr/lib/postgresql/15/bin/postgres -C shared_buffers -c config_file=$f -D {DATA_DIR}; "
        "rc=$?; rm -f $f; exit $rc"
    )
    assert result.rc != 0
    assert "invalid value for parameter" in result.stderr


def test_nightly_backup_dumps_prunes_and_uploads(host):
    assert host.service("clickstream-pg-backup.timer").is_enabled
    old = f"{BACKUPS}/appdb/appdb-20000101T000000Z.dump"
    host.check_output(
        f"runuser -u postgres -- sh -c 'mkdir -p {BACKUPS}/appdb && touch -d 2000-01-01 {old}'"
    )
    run = host.run("systemctl start clickstream-pg-backup.service")
    journal = host.run("journalctl -u clickstream-pg-backup.service --no-pager | tail -20").stdout
    assert run.rc == 0, journal
    assert not host.file(old).exists
    dumps = host.check_output(f"ls {BACKUPS}/appdb/").split()
    assert len(dumps) == 1
    assert re.fullmatch(r"appdb-\d{8}T\d{6}Z\.dump", dumps[0])
    listing = host.check_output(
        f"runuser -u postgres -- pg_restore --list {BACKUPS}/appdb/{dumps[0]}"
    )
    assert "dbname: appdb" in listing
    assert host.file(f"{BACKUPS}/globals").is_directory
    keys = host.check_output(f"PYTHONPATH=/opt/control-venv python3 -c '{LIST_BUCKET}'").split()
    assert f"backups/appdb/{dumps[0]}" in keys
    assert any(key.startswith("backups/globals/globals-") for key in keys)
