"""playbooks/etl_rerun.yml in lambda mode (production's), against a moto server.

moto cannot run a Lambda without Docker; its "simple" Lambda backend (switched on
through /moto-api/config) answers an invocation with its payload, or with the
results queued through /moto-api/static/lambda-simple/response. That is enough to
check what production relies on: the chunks' events reach the function's alias
through amazon.aws.lambda_execute, the returned summaries are printed and summed,
and a FunctionError stops the run at its chunk.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from ansible_moto import REGION, run_playbook
from clickstream_etl.etl_db import RUN_COUNTERS
from etl_rerun_helpers import RERUN_PLAYBOOK, create_function_with_alias

pytestmark = pytest.mark.integration

FUNCTION = "clickstream-lambda-etl"  # the role's default, as playbooks/lambdas.yml names it
RANGE = ("-e", "etl_from=2026-11-24T04", "-e", "etl_to=2026-11-24T09")


@pytest.fixture(scope="module")
def lambda_endpoint(moto_endpoint: str) -> str:
    """The ETL function with a `live` alias, on moto's simple Lambda backend."""
    response = requests.post(
        f"{moto_endpoint}/moto-api/config", json={"lambda": {"use_docker": False}}, timeout=10
    )
    response.raise_for_status()
    create_function_with_alias(moto_endpoint, FUNCTION)
    return moto_endpoint


def queue_results(endpoint: str, *results: dict) -> None:
    response = requests.post(
        f"{endpoint}/moto-api/static/lambda-simple/response",
        json={"results": [json.dumps(r) for r in results], "region": REGION},
        timeout=10,
    )
    response.raise_for_status()


def rerun(endpoint: str, *args: str):
    return run_playbook(
        RERUN_PLAYBOOK,
        *args,
        "-e", "etl_rerun_mode=lambda", "-e", "etl_rerun_chunk_hours=3",
        endpoint=endpoint,
    )  # fmt: skip


def kept_summaries(result: Any) -> list[dict]:
    """etl_rerun_summaries after the last chunk, from the set_fact results."""
    kept = [
        t["result"]["ansible_facts"]["etl_rerun_summaries"]
        for t in result.tasks
        if t["name"] == "Keep the chunk's summary"
    ]
    return kept[-1]


def summary(run_id: int, hours: list[str], **counts: int) -> dict:
    base = dict.fromkeys(
        (*RUN_COUNTERS, "rollup_hours_refreshed"),
        0,
    )
    return {
        "run_id": run_id,
        "trigger": "manual",
        "status": "succeeded",
        "hours": hours,
        **base,
        **counts,
        "duration_ms": 100 * run_id,
    }


def test_each_chunk_invokes_the_alias_with_its_event(lambda_endpoint: str) -> None:
    # nothing queued: the simple backend answers with the payload it received
    result = rerun(lambda_endpoint, *RANGE, "-e", "etl_dry_run=true")
    assert result.returncode == 0, result.output
    sent = [{k: v for k, v in s.items() if k != "chunk"} for s in kept_summaries(result)]
    assert sent == [
        {"from": "2026-11-24T04", "to": "2026-11-24T06", "dry_run": True},
        {"from": "2026-11-24T07", "to": "2026-11-24T09", "dry_run": True},
    ]


def test_the_summaries_returned_are_printed_and_summed(lambda_endpoint: str) -> None:
    queue_results(
        lambda_endpoint,
        summary(1, ["2026-11-24T04", "2026-11-24T05", "2026-11-24T06"],
                objects_seen=10, objects_loaded=8, objects_already_loaded=2,
                events_read=41, rows_inserted=40, rows_duplicate=1),
        summary(2, ["2026-11-24T07", "2026-11-24T08", "2026-11-24T09"],
                objects_seen=5, objects_loaded=4, objects_rejected=1,
                events_read=21, events_rejected=1, rows_inserted=20),
    )  # fmt: skip
    result = rerun(lambda_endpoint, *RANGE)
    assert result.returncode == 0, result.output
    assert result.messages("Print the chunk's summary") == [
        [
            "2026-11-24T04 .. 2026-11-24T06 (3 h): objects seen 10, loaded 8, already loaded 2, "
            "rejected 0; events read 41, rows inserted 40, duplicate 1, events rejected 0; "
            "100 ms (run 1)"
        ],
        [
            "2026-11-24T07 .. 2026-11-24T09 (3 h): objects seen 5, loaded 4, already loaded 0, "
            "rejected 1; events read 21, rows inserted 20, duplicate 0, events rejected 1; "
            "200 ms (run 2)"
        ],
    ]
    assert result.messages("Print the total") == [
        [
            "Total, 2026-11-24T04 .. 2026-11-24T09 (6 h, 2 chunk(s)): objects seen 15, "
            "loaded 12, already loaded 2, rejected 1; events read 62, rows inserted 60, "
            "duplicate 1, events rejected 1; 300 ms"
        ]
    ]


def test_a_function_error_stops_the_run_at_its_chunk(lambda_endpoint: str) -> None:
    queue_results(
        lambda_endpoint,
        summary(3, ["2026-11-24T04", "2026-11-24T05", "2026-11-24T06"], objects_seen=1),
        {
            "errorType": "EtlIncompleteError",
            "errorMessage": "1 object(s) could not be read (run 4: repeat the run)",
            "stackTrace": ['  File "/var/task/handler.py", line 1, in handler'],
        },
    )
    result = rerun(lambda_endpoint, *RANGE)
    assert result.returncode != 0
    message = result.failure_messages()[-1]
    assert message.startswith("Chunk 2026-11-24T07 .. 2026-11-24T09 failed: ")
    assert "Message: 1 object(s) could not be read (run 4: repeat the run)" in message
    assert "Type: EtlIncompleteError" in message
    assert "The chunks before it are loaded." in message
    assert message.endswith("resume with -e etl_from=2026-11-24T07 -e etl_to=2026-11-24T09.")
    assert len(result.messages("Print the chunk's summary")) == 1


def test_an_unknown_function_is_a_clear_failure(lambda_endpoint: str) -> None:
    result = rerun(lambda_endpoint, *RANGE, "-e", "etl_rerun_function_name=clickstream-nope")
    assert result.returncode != 0
    message = result.failure_messages()[-1]
    assert message.startswith("Chunk 2026-11-24T04 .. 2026-11-24T06 failed: ")
    assert (
        f"Function not found: arn:aws:lambda:{REGION}:123456789012:function:clickstream-nope"
        in (message)
    )
