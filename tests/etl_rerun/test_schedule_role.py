"""roles/etl_schedule against a moto server: the rule, its target and the permission.

Each step runs the role from a real playbook (module_defaults for
group/clickstream.aws.aws, as the project's plays set them) and reads the result
back with boto3.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ansible_moto import REGION, aws_client, local_play, run_playbook, write_playbook
from etl_rerun_helpers import create_function_with_alias

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
FUNCTION = "clickstream-etl"
RULE = "clickstream-etl-hourly"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{RULE}"
ALIAS_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}:live"


@pytest.fixture(scope="module")
def etl_alias(moto_endpoint: str) -> str:
    """An ETL function with a published version and a `live` alias."""
    arn = create_function_with_alias(moto_endpoint, FUNCTION)
    assert arn == ALIAS_ARN
    return arn


def write_play(directory: Path, role_vars: dict[str, Any], endpoint: str) -> Path:
    play = local_play("etl_schedule test", endpoint, roles=[{"role": "etl_schedule", **role_vars}])
    return write_playbook(directory / "play.yml", play)


def apply(tmp_path: Path, endpoint: str, *flags: str, **role_vars: Any):
    result = run_playbook(write_play(tmp_path, role_vars, endpoint), *flags)
    assert result.returncode == 0, result.output
    return result


def statements(endpoint: str) -> list[dict]:
    client = aws_client("lambda", endpoint)
    try:
        policy = client.get_policy(FunctionName=FUNCTION, Qualifier="live")["Policy"]
    except client.exceptions.ResourceNotFoundException:
        return []
    return json.loads(policy)["Statement"]


def rule_names(endpoint: str) -> list[str]:
    return [r["Name"] for r in aws_client("events", endpoint).list_rules()["Rules"]]


def test_present_creates_rule_target_and_permission_then_changes_nothing(
    moto_endpoint: str, etl_alias: str, tmp_path: Path
) -> None:
    first = apply(tmp_path, moto_endpoint, etl_schedule_target_arn=etl_alias, etl_schedule_minute=7)
    assert first.stats["changed"] >= 2

    events = aws_client("events", moto_endpoint)
    rule = events.describe_rule(Name=RULE)
    assert rule["Arn"] == RULE_ARN
    assert rule["ScheduleExpression"] == "cron(7 * * * ? *)"
    assert rule["State"] == "ENABLED"
    targets = events.list_targets_by_rule(Rule=RULE)["Targets"]
    assert [(t["Id"], t["Arn"]) for t in targets] == [("clickstream-etl", etl_alias)]
    # the whole scheduled event reaches the ETL: it reads "time"
    assert "Input" not in targets[0]
    assert "InputPath" not in targets[0]

    [statement] = statements(moto_endpoint)
    assert statement["Sid"] == f"{RULE}-invoke"
    assert statement["Action"] == "lambda:InvokeFunction"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Resource"] == etl_alias
    assert statement["Condition"] == {"ArnLike": {"AWS:SourceArn": RULE_ARN}}

    second = apply(
        tmp_path, moto_endpoint, etl_schedule_target_arn=etl_alias, etl_schedule_minute=7
    )
    assert second.stats["changed"] == 0, second.output
    assert second.stats["failures"] == 0

    check = apply(
        tmp_path,
        moto_endpoint,
        "--check",
        "--diff",
        etl_schedule_target_arn=etl_alias,
        etl_schedule_minute=7,
    )
    assert check.stats["changed"] == 0, check.output


def test_minute_and_enabled_are_updated_in_place(
    moto_endpoint: str, etl_alias: str, tmp_path: Path
) -> None:
    apply(tmp_path, moto_endpoint, etl_schedule_target_arn=etl_alias, etl_schedule_minute=7)
    changed = apply(
        tmp_path,
        moto_endpoint,
        etl_schedule_target_arn=etl_alias,
        etl_schedule_minute=42,
        etl_schedule_enabled=False,
    )
    assert changed.stats["changed"] >= 1
    rule = aws_client("events", moto_endpoint).describe_rule(Name=RULE)
    assert rule["ScheduleExpression"] == "cron(42 * * * ? *)"
    assert rule["State"] == "DISABLED"
    assert len(statements(moto_endpoint)) == 1
    apply(tmp_path, moto_endpoint, etl_schedule_target_arn=etl_alias, etl_schedule_minute=7)
    assert aws_client("events", moto_endpoint).describe_rule(Name=RULE)["State"] == "ENABLED"


def test_absent_removes_rule_target_and_permission(
    moto_endpoint: str, etl_alias: str, tmp_path: Path
) -> None:
    apply(tmp_path, moto_endpoint, etl_schedule_target_arn=etl_alias)
    assert RULE in rule_names(moto_endpoint)

    removed = apply(
        tmp_path, moto_endpoint, etl_schedule_target_arn=etl_alias, etl_schedule_state="absent"
    )
    assert removed.stats["changed"] >= 2
    assert RULE not in rule_names(moto_endpoint)
    assert statements(moto_endpoint) == []

    again = apply(
        tmp_path, moto_endpoint, etl_schedule_target_arn=etl_alias, etl_schedule_state="absent"
    )
    assert again.stats["changed"] == 0, again.output


@pytest.mark.parametrize(
    ("role_vars", "message"),
    [
        ({}, "etl_schedule_target_arn must be the ARN of the ETL function's alias"),
        (
            {"etl_schedule_target_arn": ALIAS_ARN.rsplit(":", 1)[0]},
            "etl_schedule_target_arn must be the ARN of the ETL function's alias",
        ),
        (
            {"etl_schedule_target_arn": ALIAS_ARN.rsplit(":", 1)[0] + ":3"},
            "not a version number",
        ),
        ({"etl_schedule_target_arn": ALIAS_ARN, "etl_schedule_minute": 60}, "minute 0-59"),
        (
            {"etl_schedule_target_arn": ALIAS_ARN, "etl_schedule_rule_name": "bad name"},
            "etl_schedule_rule_name and etl_schedule_target_id must be",
        ),
    ],
    ids=["missing-arn", "unqualified-arn", "version-arn", "minute-60", "rule-name"],
)
def test_bad_variables_fail_with_a_clear_message(
    moto_endpoint: str, tmp_path: Path, role_vars: dict, message: str
) -> None:
    result = run_playbook(write_play(tmp_path, role_vars, moto_endpoint))
    assert result.returncode != 0
    assert any(message in text for text in result.failure_messages()), result.output
