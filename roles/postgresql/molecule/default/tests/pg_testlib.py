"""Helpers the PostgreSQL, OLTP and DW scenarios share: run SQL on the instance.

Every client here is a real libpq connection made inside the instance (`psql`),
over TCP with the sslmode asked for, or as `postgres` on the local socket.
"""

from __future__ import annotations

import shlex

VERSION = 15
CONFIG_DIR = f"/etc/postgresql/{VERSION}/main"
DATA_DIR = f"/var/lib/postgresql/{VERSION}/main"
LOG_FILE = f"/var/log/postgresql/postgresql-{VERSION}-main.log"
# Turns a role's read-only default off for the statements after it (a list of -c).
READ_WRITE = "SET default_transaction_read_only = off"


def admin(host, sql: str, database: str = "postgres") -> str:
    """Run SQL as the postgres superuser (peer, local socket); return the unaligned output."""
    psql = "runuser -u postgres -- psql -X -A -t -v ON_ERROR_STOP=1"
    command = f"{psql} -d {database} -c {shlex.quote(sql)}"
    return host.check_output(command).strip()


def setting(host, name: str) -> str:
    return admin(host, f"SHOW {name}")


def client(
    host,
    *,
    user: str,
    password: str,
    database: str,
    address: str = "127.0.0.1",
    sslmode: str = "require",
    sql: str | list[str] = "SELECT 1",
):
    """Connect as an application would; return the command result (rc, stdout, stderr)."""
    dsn = f"host={address} port=5432 dbname={database} user={user} sslmode={sslmode}"
    command = (
        f"PGPASSWORD={shlex.quote(password)} psql -X -q -A -t -v ON_ERROR_STOP=1 "
        f"{shlex.quote(dsn)} {_commands(sql)}"
    )
    return host.run(command)


def _commands(sql: str | list[str]) -> str:
    """psql -c options: each statement of a list is its own transaction, in one session."""
    statements = [sql] if isinstance(sql, str) else sql
    return " ".join(f"-c {shlex.quote(statement)}" for statement in statements)


def refused(result, reason: str) -> bool:
    """The connection or statement failed, and PostgreSQL said why."""
    return result.rc != 0 and reason in result.stderr


def local_client(host, *, user: str, password: str, database: str, sql: str | list[str]):
    """Connect over the Unix socket with a password (scram-sha-256), as Shiny does."""
    command = (
        f"PGPASSWORD={shlex.quote(password)} psql -X -q -A -t -v ON_ERROR_STOP=1 "
        f"-h /var/run/postgresql -U {user} -d {database} {_commands(sql)}"
    )
    return host.run(command)
