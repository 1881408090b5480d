#!/usr/bin/env python3
"""Nightly PostgreSQL backup: pg_dump of every database, the global objects, retention, S3.

Run by clickstream-pg-backup.service as postgres (peer authentication on the local
socket). Settings come from the environment the unit sets:

BACKUP_DIR              where dumps go: <dir>/<database>/<database>-<UTC time>.dump
BACKUP_RETENTION_DAYS   dumps older than this are deleted (on the host only)
BACKUP_BIN_DIR          PostgreSQL's programs (/usr/lib/postgresql/<version>/bin)
BACKUP_S3_BUCKET        "" keeps dumps on the host; else each new file is uploaded
BACKUP_S3_PREFIX        key prefix: <prefix><database>/<file>
BACKUP_S3_ENDPOINT_URL  "" for AWS; another S3 endpoint otherwise

Every database is attempted; the exit status is 1 when any step failed.
"""

import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

SUFFIXES = (".dump", ".sql")


def log(message: str) -> None:
    print(message, flush=True)


def databases(bin_dir: Path) -> list[str]:
    query = "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"
    out = subprocess.run(  # noqa: S603 - argv list, no shell, PostgreSQL's own programs
        [str(bin_dir / "psql"), "-X", "-A", "-t", "-d", "postgres", "-c", query],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [name for name in out.splitlines() if name]


def dump(bin_dir: Path, folder: Path, name: str, stamp: str) -> Path:
    """Dump one database (or the globals, name "globals") atomically; return its path."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if name == "globals":
        target = folder / f"globals-{stamp}.sql"
        command = [str(bin_dir / "pg_dumpall"), "--globals-only", "-f"]
    else:
        target = folder / f"{name}-{stamp}.dump"
        command = [str(bin_dir / "pg_dump"), "--format=custom", "-d", name, "-f"]
    partial = target.with_name(target.name + ".partial")
    # argv list, no shell; the database names come from pg_database.
    subprocess.run([*command, str(partial)], check=True, capture_output=True, text=True)  # noqa: S603
    partial.rename(target)
    return target


def prune(root: Path, days: int) -> list[Path]:
    """Delete dumps (and leftovers of failed runs) older than `days`; return them."""
    cutoff = time.time() - days * 86400
    removed = []
    for path in sorted(root.glob("*/*")):
        old = path.is_file() and path.stat().st_mtime < cutoff
        if old and path.name.endswith((*SUFFIXES, ".partial")):
            path.unlink()
            removed.append(path)
    return removed


def upload(paths: list[Path], root: Path) -> None:
    import boto3  # only needed (and installed) when a bucket is set

    bucket = os.environ["BACKUP_S3_BUCKET"]
    prefix = os.environ.get("BACKUP_S3_PREFIX", "")
    client = boto3.client("s3", endpoint_url=os.environ.get("BACKUP_S3_ENDPOINT_URL") or None)
    for path in paths:
        key = f"{prefix}{path.relative_to(root).as_posix()}"
        client.upload_file(str(path), bucket, key, ExtraArgs={"ServerSideEncryption": "AES256"})
        log(f"uploaded s3://{bucket}/{key}")


def main() -> int:
    root = Path(os.environ.get("BACKUP_DIR", "/var/backups/postgresql"))
    bin_dir = Path(os.environ["BACKUP_BIN_DIR"])
    days = int(os.environ.get("BACKUP_RETENTION_DAYS", "7"))
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    failures = 0
    written = []
    for name in ["globals", *databases(bin_dir)]:
        try:
            path = dump(bin_dir, root / name, name, stamp)
        except subprocess.CalledProcessError as error:
            failures += 1
            log(f"FAILED {name}: {error.stderr.strip()}")
            continue
        written.append(path)
        log(f"dumped {name} to {path} ({path.stat().st_size} bytes)")
    for path in prune(root, days):
        log(f"removed {path} (older than {days} days)")
    if written and os.environ.get("BACKUP_S3_BUCKET"):
        try:
            upload(written, root)
        except Exception as error:  # any upload failure fails the run, named
            failures += 1
            log(f"FAILED upload: {error}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
