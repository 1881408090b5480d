"""Fixtures for the ETL tests.

Unit tests import the ETL modules (package ``clickstream_etl``).  Integration tests
(marker ``integration``) get a real throwaway PostgreSQL 15 cluster
(clickstream_tools.pgcluster) with a fresh database per test, migrated by
roles/dw/files/migrations, and moto's in-process S3.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from clickstream_etl import handler
from clickstream_tools import pgcluster as pg_fixture
from etl_test_helpers import (
    BUCKET,
    ETL_PASSWORD,
    MIGRATIONS,
    READER_PASSWORD,
    Database,
)


@pytest.fixture(scope="session")
def etl_handler() -> ModuleType:
    return handler


# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    with pg_fixture.running_postgres() as server:
        yield server


_db_numbers = itertools.count(1)


def _migrated_database(server: Any) -> Database:
    name = f"clickstream_dw_{next(_db_numbers)}"
    server.create_database(name)
    pg_fixture.apply_migrations(server, name, MIGRATIONS)
    pg_fixture.allow_login(server, etl_writer=ETL_PASSWORD, dw_reader=READER_PASSWORD)
    return Database(server, name)


def _drop(database: Database) -> None:
    if database.server.is_running():
        database.server.drop_database(database.name)


@pytest.fixture
def dw(pg_server: Any) -> Iterator[Database]:
    """A fresh clickstream DW database, migrated; etl_writer/dw_reader can log in."""
    database = _migrated_database(pg_server)
    yield database
    _drop(database)


@pytest.fixture(scope="module")
def dw_readonly(pg_server: Any) -> Iterator[Database]:
    """One migrated database shared by a module's tests that must not change it."""
    database = _migrated_database(pg_server)
    yield database
    _drop(database)


# ---------------------------------------------------------------------------------------------
# S3 (moto, in process) and the Lambda's environment
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture
def s3(aws_env: None) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def etl_env(dw: Database, s3: Any, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The ETL's environment pointing at the test bucket and database as etl_writer."""
    server = dw.server
    values = {
        "RAW_BUCKET_NAME": BUCKET,
        "DW_PG_HOST": server.host,
        "DW_PG_PORT": str(server.port),
        "DW_PG_USER": "etl_writer",
        "DW_PG_PASSWORD": ETL_PASSWORD,
        "DW_PG_DATABASE": dw.name,
        "DW_PG_SSL": "disable",
        "MAX_RECORDS_PER_BATCH": "50",
        "ETL_FETCH_CONCURRENCY": "4",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for key in ("TARGET_TABLE", "ETL_LOOKBACK_HOURS"):
        monkeypatch.delenv(key, raising=False)
    return dw
