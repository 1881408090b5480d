"""Fixtures of the dashboard tests: a warehouse loaded through the real ETL, the app, a browser.

* ``warehouse``: a throwaway PostgreSQL 15 (clickstream_tools.pgcluster) with two
  databases migrated by roles/dw/files/migrations: ``loaded`` holds a week of
  generated events (clickstream_tools.datagen) and a few bots' (shiny_test_support.bot_events)
  written as the ingest Lambda's S3 objects (moto in process) and loaded by the ETL
  Lambda's handler; ``empty`` holds nothing.
* ``start_app``: the Shiny app of roles/shiny/files/app run with R on a free
  127.0.0.1 port, connected as the read-only ``dw_reader``.
* ``browser``: Debian's chromium, headless, through chromium-driver and Selenium.

Needs the Debian packages r-base-core, r-cran-shiny, r-cran-rpostgresql, r-cran-dt,
r-cran-bslib, r-cran-ggplot2, chromium, chromium-driver and postgresql-15.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import browser as chromium_browser
from clickstream_tools import datagen, etl_load
from clickstream_tools import pgcluster as pg_fixture
from shiny_test_support import (
    BUCKET,
    DATA,
    ETL_PASSWORD,
    READER_PASSWORD,
    Warehouse,
    bot_events,
)

REPO = Path(__file__).resolve().parents[2]
APP_DIR = REPO / "roles" / "shiny" / "files" / "app"
MIGRATIONS = REPO / "roles" / "dw" / "files" / "migrations"
SCREENSHOTS = REPO / ".state" / "screenshots"


def _require(paths: dict[str, str]) -> None:
    missing = [
        f"{path} (Debian package {pkg})" for path, pkg in paths.items() if not shutil.which(path)
    ]
    if missing:
        pytest.fail("the dashboard tests need " + ", ".join(missing) + ": run make setup")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def warehouse() -> Iterator[Warehouse]:
    import boto3
    from moto import mock_aws

    with pg_fixture.running_postgres() as server:
        for name in ("dashboards_loaded", "dashboards_empty"):
            server.create_database(name)
            pg_fixture.apply_migrations(server, name, MIGRATIONS)
        pg_fixture.allow_login(server, etl_writer=ETL_PASSWORD, dw_reader=READER_PASSWORD)
        events = list(datagen.Generator(DATA).events())
        events += bot_events(events)
        aws = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        saved = {key: os.environ.pop(key, None) for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE")}
        os.environ.update(aws)
        try:
            with mock_aws():
                s3 = boto3.client("s3", region_name="us-east-1")
                s3.create_bucket(Bucket=BUCKET)
                etl_load.load(
                    events,
                    s3,
                    BUCKET,
                    {
                        "DW_PG_HOST": "127.0.0.1",
                        "DW_PG_PORT": str(server.port),
                        "DW_PG_USER": "etl_writer",
                        "DW_PG_PASSWORD": ETL_PASSWORD,
                        "DW_PG_DATABASE": "dashboards_loaded",
                        "DW_PG_SSL": "disable",
                    },
                )
        finally:
            for key, value in saved.items():
                if value is not None:
                    os.environ[key] = value
        yield Warehouse(server, "dashboards_loaded", "dashboards_empty")


@dataclass
class RunningApp:
    url: str
    process: subprocess.Popen
    log: Path


@pytest.fixture(scope="session")
def start_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., RunningApp]]:
    """Start the app with an environment; every app started is stopped at the end."""
    _require({"R": "r-base-core"})
    started: list[RunningApp] = []

    def start(env: dict[str, str]) -> RunningApp:
        port = free_port()
        log = tmp_path_factory.mktemp("shiny") / "app.log"
        command = [
            "R",
            "--no-save",
            "--no-restore",
            "-q",
            "-e",
            f"shiny::runApp('{APP_DIR}', port = {port}, host = '127.0.0.1', "
            "launch.browser = FALSE)",
        ]
        # no settings file of a real host: only the test's environment counts
        full_env = {**os.environ, **env, "CLICKSTREAM_DASHBOARD_ENV": "/nonexistent"}
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=full_env, stdout=out, stderr=subprocess.STDOUT, cwd=APP_DIR
            )
        app = RunningApp(f"http://127.0.0.1:{port}/", process, log)
        started.append(app)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the app exited with {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(app.url, timeout=2) as response:
                    if response.status == 200:
                        return app
            except OSError:  # refused, reset or timed out while R starts
                time.sleep(0.3)
        pytest.fail(f"the app did not answer on {app.url} within 60 s:\n{log.read_text()}")
        raise AssertionError("unreachable")

    yield start
    for app in started:
        app.process.terminate()
        try:
            app.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.process.kill()
            app.process.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    _require({"chromium": "chromium", "chromedriver": "chromium-driver"})
    with chromium_browser.chromium(window_size="1400,1800") as driver:
        yield driver


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
