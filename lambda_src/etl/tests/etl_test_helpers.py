"""Helpers shared by the ETL tests (a module of its own: conftest is not importable)."""

from __future__ import annotations

import importlib.util
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

BUCKET = "clickstream-raw-test"
ETL_DIR = Path(__file__).resolve().parents[1]
REPO = ETL_DIR.parents[1]
MIGRATIONS = REPO / "roles" / "dw" / "files" / "migrations"
ETL_PASSWORD = "etl-writer-test-password"
READER_PASSWORD = "dw-reader-test-password"

# the ETL modules import each other by name, as in the Lambda's package root
if str(ETL_DIR) not in sys.path:
    sys.path.insert(0, str(ETL_DIR))


def load_module(name: str, path: Path) -> ModuleType:
    """Import a file under a unique name (the ingest Lambda has a handler.py too)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


pg_fixture = load_module("clickstream_pg_fixture", REPO / "tests" / "fixtures" / "postgres.py")


class Database:
    def __init__(self, server: Any, name: str) -> None:
        self.server = server
        self.name = name

    def connect(self, user: str = "postgres", password: str | None = None):
        import psycopg2

        conn = psycopg2.connect(self.server.dsn(self.name, user, password))
        conn.autocommit = True
        return conn

    def query(self, text: str, params: Any = None) -> list[tuple]:
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(text, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def scalar(self, text: str, params: Any = None) -> Any:
        return self.query(text, params)[0][0]


def hour_key(hour: datetime, name: str | None = None) -> str:
    return hour.strftime("events/%Y/%m/%d/%H/") + (name or f"event-{uuid.uuid4()}.json")


def ingest_block(moment: datetime) -> dict[str, Any]:
    return {
        "receivedAt": moment.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "sourceIp": "203.0.113.7",
        "userAgent": "pytest",
        "method": "POST",
        "path": "/clickstream",
        "requestId": str(uuid.uuid4()),
        "apiId": "lab",
        "stage": "$default",
        "traceId": "Root=1-00000000-000000000000000000000000",
    }


def put_raw(s3: Any, key: str, body: bytes | str | Any) -> str:
    if not isinstance(body, bytes | str):
        body = json.dumps(body)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="application/json")
    return key
