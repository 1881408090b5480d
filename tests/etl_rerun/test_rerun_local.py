"""playbooks/etl_rerun.yml in local mode, end to end.

A throwaway PostgreSQL 15 (clickstream_tools.pgcluster) migrated by
roles/dw/files/migrations with etl_writer able to log in, a moto server with the
raw bucket (the lab's derived name) holding events in two hours, and the ETL zip
built by roles/lambda_package from src/ (without its third-party
requirements: psycopg2 comes from this virtualenv). The playbook runs from the
project root with the lab inventory, pointed at those by extra vars.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_moto import PROJECT_ROOT, REGION, aws_client, run_playbook
from clickstream_tools import pgcluster as pg_fixture
from etl_rerun_helpers import RERUN_PLAYBOOK
from lambda_build import package_function

pytestmark = pytest.mark.integration

MIGRATIONS = PROJECT_ROOT / "roles" / "dw" / "files" / "migrations"
PASSWORD = "etl-writer-rerun-test"
BUCKET = f"clickstream-raw-123456789012-{REGION}"  # aws_storage's name for moto's account
H05, H06 = "2026/11/24/05", "2026/11/24/06"


# ---------------------------------------------------------------------------------------------
# fixtures: PostgreSQL, S3 objects, the package
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dw() -> Iterator[Any]:
    with pg_fixture.running_postgres() as server:
        server.create_database("clickstream_dw")
        pg_fixture.apply_migrations(server, "clickstream_dw", MIGRATIONS)
        pg_fixture.allow_login(server, etl_writer=PASSWORD)
        yield server


def query(server: Any, sql: str) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(server.dsn("clickstream_dw"))
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        conn.close()


def event(event_id: str, hour: str, minute: int, name: str = "page_view") -> dict:
    day = hour.replace("/", "-", 2).replace("/", "T")
    return {
        "eventId": event_id,
        "eventName": name,
        "userId": "u-1",
        "sessionId": "s-1",
        "pageUrl": f"https://shop.example.com/p/{event_id}",
        "_ingest": {"receivedAt": f"{day}:{minute:02d}:00Z", "sourceIp": "203.0.113.7"},
    }


def put(s3: Any, hour: str, body: Any, kind: str = "event") -> str:
    key = f"events/{hour}/{kind}-{uuid.uuid4()}.json"
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    s3.put_object(Bucket=BUCKET, Key=key, Body=data, ContentType="application/json")
    return key


@pytest.fixture(scope="module")
def raw(moto_endpoint: str) -> Any:
    """Hour 05: three events and a batch of three (one repeating an earlier id); hour 06:
    two events and an object that is not JSON."""
    s3 = aws_client("s3", moto_endpoint)
    s3.create_bucket(Bucket=BUCKET)
    for n in (1, 2, 3):
        put(s3, H05, event(f"e{n}", H05, n))
    put(
        s3,
        H05,
        {"events": [event("e4", H05, 10), event("e5", H05, 11), event("e1", H05, 12)]},
        "batch",
    )
    put(s3, H06, event("e6", H06, 1))
    put(s3, H06, event("e7", H06, 2))
    put(s3, H06, b"{not json", "event")
    return s3


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """build/lambda/etl.zip's layout, built by the project's packaging role into a temp folder."""
    build = tmp_path_factory.mktemp("build")
    play = [
        {
            "name": "Package the ETL",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
            "roles": [
                {
                    "role": "lambda_package",
                    "lambda_package_functions": [package_function("etl")],
                    "lambda_package_build_dir": str(build),
                    "lambda_package_pip_cache_dir": str(build / "pip-cache"),
                }
            ],
        }
    ]
    playbook = build / "package.yml"
    playbook.write_text(json.dumps(play))
    result = run_playbook(playbook)
    assert result.returncode == 0, result.output
    zip_path = build / "etl.zip"
    assert zip_path.is_file()
    return zip_path


@pytest.fixture(scope="module")
def rerun(dw: Any, raw: Any, package: Path, moto_endpoint: str):
    def run(*args: str, **overrides: Any):
        extra = {
            "etl_rerun_package": str(package),
            "etl_rerun_dw_port": dw.port,
            "etl_rerun_dw_password": PASSWORD,
            "etl_rerun_dw_ssl": "disable",
            "etl_rerun_chunk_hours": 2,
            "etl_rerun_environment": {"ETL_FETCH_CONCURRENCY": "4"},
            **overrides,
        }
        return run_playbook(RERUN_PLAYBOOK, *args, extra_vars=extra, endpoint=moto_endpoint)

    return run


RANGE = ("-e", "etl_from=2026-11-24T04", "-e", "etl_to=2026-11-24T07")


def event_ids(server: Any) -> list[str]:
    return [row[0] for row in query(server, "SELECT event_id FROM clickstream_events ORDER BY 1")]


def counts(line: str) -> dict[str, int]:
    """'objects seen 7, loaded 6, ...' -> {'objects seen': 7, 'loaded': 6, ...}"""
    return {name: int(n) for name, n in re.findall(r"([a-z][a-z ]*?) (\d+)(?=[,;]| ms)", line)}


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------
def test_a_rerun_loads_each_event_once_and_a_repeat_loads_nothing(rerun, dw: Any) -> None:
    first = rerun(*RANGE)
    assert first.returncode == 0, first.output
    assert event_ids(dw) == ["e1", "e2", "e3", "e4", "e5", "e6", "e7"]
    [rejected_key] = [row[0] for row in query(dw, "SELECT object_key FROM etl_rejects")]
    assert rejected_key.startswith(f"events/{H06}/")

    chunks = first.messages("Print the chunk's summary")
    assert [lines[0].split(":")[0] for lines in chunks] == [
        "2026-11-24T04 .. 2026-11-24T05 (2 h)",
        "2026-11-24T06 .. 2026-11-24T07 (2 h)",
    ]
    h05, h06 = (counts(lines[0].split("): ", 1)[1]) for lines in chunks)
    assert h05["objects seen"] == 4
    assert h05["rows inserted"] == 5
    assert h05["duplicate"] == 1
    assert h05["events read"] == 6
    assert h06["objects seen"] == 3
    assert h06["rejected"] == 1
    assert h06["rows inserted"] == 2
    [[total]] = first.messages("Print the total")
    assert total.startswith("Total, 2026-11-24T04 .. 2026-11-24T07 (4 h, 2 chunk(s)): ")
    first_total = counts(total.split("): ", 1)[1])
    assert first_total["objects seen"] == 7
    assert first_total["already loaded"] == 0
    assert first_total["rows inserted"] == 7
    assert first_total["events read"] == 8
    assert first.stats["changed"] >= 2

    again = rerun(*RANGE)
    assert again.returncode == 0, again.output
    assert event_ids(dw) == ["e1", "e2", "e3", "e4", "e5", "e6", "e7"]
    [[total]] = again.messages("Print the total")
    second_total = counts(total.split("): ", 1)[1])
    assert second_total["objects seen"] == 7
    assert second_total["already loaded"] == 7
    assert second_total["loaded"] == 0
    assert second_total["rows inserted"] == 0
    assert second_total["events read"] == 0
    assert again.stats["changed"] == 0


def test_dry_run_lists_what_would_load_and_writes_nothing(rerun, dw: Any, raw: Any) -> None:
    assert rerun(*RANGE).returncode == 0  # everything so far is loaded
    new_key = put(raw, H06, event("e8", H06, 30))
    runs_before = query(dw, "SELECT count(*) FROM etl_runs")[0][0]

    dry = rerun(*RANGE, "-e", "etl_dry_run=true")
    assert dry.returncode == 0, dry.output
    assert "e8" not in event_ids(dw)
    assert query(dw, "SELECT count(*) FROM etl_runs")[0][0] == runs_before
    lines = [line for chunk in dry.messages("Print the chunk's summary") for line in chunk]
    assert "  2026-11-24T06: 4 object(s), 3 already loaded, 1 to load" in lines
    assert f"    {new_key}" in lines
    assert "  2026-11-24T05: 4 object(s), 4 already loaded, 0 to load" in lines
    [[total]] = dry.messages("Print the total")
    assert total.endswith("8 object(s), 7 already loaded, 1 to load; nothing was written")
    assert dry.stats["changed"] == 0

    check = rerun(*RANGE, "--check")
    assert check.returncode == 0, check.output
    assert "e8" not in event_ids(dw)

    real = rerun(*RANGE)
    assert real.returncode == 0, real.output
    assert "e8" in event_ids(dw)


def test_a_failing_chunk_stops_the_run_and_says_where_to_resume(rerun, dw: Any) -> None:
    before = event_ids(dw)
    failed = rerun(*RANGE, etl_rerun_dw_password="wrong")
    assert failed.returncode != 0
    handler_error, message = failed.failure_messages()  # the task, then the rescue's stop
    assert handler_error.startswith("the ETL handler failed: OperationalError: ")
    assert message.startswith(
        "Chunk 2026-11-24T04 .. 2026-11-24T05 failed: the ETL handler failed: OperationalError: "
    )
    assert 'password authentication failed for user "etl_writer"' in message
    assert message.endswith(
        "Loads are exactly once: after fixing the cause, resume with "
        "-e etl_from=2026-11-24T04 -e etl_to=2026-11-24T07."
    )
    assert "wrong" not in failed.stdout  # the password never reaches the output
    assert event_ids(dw) == before


def test_a_missing_bucket_is_a_clear_failure(rerun) -> None:
    failed = rerun(*RANGE, etl_rerun_raw_bucket="no-such-bucket")
    assert failed.returncode != 0
    message = failed.failure_messages()[-1]
    assert message.startswith("Chunk 2026-11-24T04 .. 2026-11-24T05 failed: ")
    assert "NoSuchBucket" in message
