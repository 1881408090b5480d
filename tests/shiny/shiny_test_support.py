"""What the dashboard tests share (conftest itself is not importable with importlib mode)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
for extra in (REPO / "tools" / "datagen", REPO / "tests" / "fixtures"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import clickstream_datagen  # noqa: E402

ETL_PASSWORD = "etl-writer-dashboard-test"
READER_PASSWORD = "dw-reader-dashboard-test"
BUCKET = "clickstream-raw-dashboards"
# A week of data, small enough to go through moto and the ETL in about a minute.
DATA = clickstream_datagen.Config(seed=11, events=3000, start=date(2025, 3, 3), days=7)
FIRST_DAY = DATA.start
LAST_DAY = date(2025, 3, 9)


@dataclass
class Warehouse:
    server: Any
    loaded: str
    empty: str

    def connect(self, dbname: str, user: str = "postgres", password: str | None = None) -> Any:
        import psycopg2

        conn = psycopg2.connect(self.server.dsn(dbname, user, password))
        conn.autocommit = True
        return conn

    def reader_env(self, dbname: str) -> dict[str, str]:
        return {
            "DW_PG_HOST": "127.0.0.1",
            "DW_PG_PORT": str(self.server.port),
            "DW_PG_DATABASE": dbname,
            "DW_PG_USER": "dw_reader",
            "DW_PG_PASSWORD": READER_PASSWORD,
        }
