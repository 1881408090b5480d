"""playbooks/etl_rerun.yml refuses bad inputs with a clear message, before touching anything.

Each case is a real ansible-playbook run from the project root (the lab inventory,
local mode). None of them reaches AWS or a database.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ansible_moto import run_playbook
from etl_rerun_helpers import RERUN_PLAYBOOK

USAGE = "ansible-playbook playbooks/etl_rerun.yml -e etl_from=2026-11-24T05 -e etl_to=2026-11-24T07"


def failure(*args: str, extra_vars: dict | None = None) -> list[str]:
    result = run_playbook(RERUN_PLAYBOOK, *args, extra_vars=extra_vars)
    assert result.returncode != 0, result.output
    messages = result.failure_messages()
    assert messages, result.output
    return messages


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (),
            "etl_from and etl_to are required: the first and last UTC hour to reprocess, "
            f"inclusive ({USAGE})",
        ),
        (
            ("-e", "etl_from=2026-11-24T05"),
            f"etl_to is required: the first and last UTC hour to reprocess, inclusive ({USAGE})",
        ),
        (
            ("-e", "etl_from=2026-11-24", "-e", "etl_to=2026-11-24T07"),
            'etl_from must be a UTC hour formatted YYYY-MM-DDTHH (for example 2026-11-24T05), '
            'got "2026-11-24"',
        ),
        (
            ("-e", "etl_from=2026-11-24T05", "-e", "etl_to=2026-11-24T07:00"),
            'etl_to must be a UTC hour formatted YYYY-MM-DDTHH (for example 2026-11-24T05), '
            'got "2026-11-24T07:00"',
        ),
        (
            ("-e", "etl_from=2026-02-30T05", "-e", "etl_to=2026-03-01T07"),
            'etl_from is not a real date and hour: "2026-02-30T05" (day is out of range for month)',
        ),
        (
            ("-e", "etl_from=2026-11-24T07", "-e", "etl_to=2026-11-24T05"),
            "etl_to (2026-11-24T05) is before etl_from (2026-11-24T07): give the first hour as "
            "etl_from and the last as etl_to (both included)",
        ),
        (
            ("-e", "etl_from=2026-11-01T00", "-e", "etl_to=2026-11-08T00"),
            "169 hours requested (2026-11-01T00 to 2026-11-08T00), more than the limit of 168: "
            "narrow the range, or add -e etl_force=true to reprocess all of it "
            "(29 invocations of up to 6 hours)",
        ),
        (
            ("-e", "etl_from=2026-11-24T05", "-e", "etl_to=2026-11-24T07", "-e", "etl_force=maybe"),
            'etl_force must be true or false, got "maybe"',
        ),
        (
            ("-e", "etl_from=2026-11-24T05", "-e", "etl_to=2026-11-24T07", "-e", "etl_dry_run=2"),
            'etl_dry_run must be true or false, got "2"',
        ),
        (
            (
                "-e", "etl_from=2026-11-24T05", "-e", "etl_to=2026-11-24T07",
                "-e", "etl_rerun_chunk_hours=200",
            ),
            "etl_rerun_chunk_hours must be between 1 and 168 (the ETL's limit per invocation), "
            "got 200",
        ),
    ],
    ids=[
        "missing-both",
        "missing-to",
        "bad-from-format",
        "bad-to-format",
        "not-a-date",
        "to-before-from",
        "too-wide",
        "force-not-bool",
        "dry-run-not-bool",
        "chunk-too-big",
    ],
)  # fmt: skip
def test_bad_input_fails_with_its_message(args: tuple[str, ...], message: str) -> None:
    assert message in failure(*args)


def test_a_missing_package_says_how_to_build_it(tmp_path: Path) -> None:
    messages = failure(
        "-e", "etl_from=2026-11-24T05", "-e", "etl_to=2026-11-24T07",
        extra_vars={"etl_rerun_package": str(tmp_path / "etl.zip")},
    )  # fmt: skip
    assert messages == [
        f"The ETL package {tmp_path / 'etl.zip'} is missing: run site.yml (or the lambdas tag, "
        "ansible-playbook site.yml --tags lambdas) first."
    ]


def test_a_missing_password_file_says_where_it_comes_from(tmp_path: Path) -> None:
    package = tmp_path / "etl.zip"
    package.write_bytes(b"")
    messages = failure(
        "-e", "etl_from=2026-11-24T05", "-e", "etl_to=2026-11-24T07",
        extra_vars={
            "etl_rerun_package": str(package),
            "etl_rerun_dw_password_file": str(tmp_path / "nope"),
        },
    )  # fmt: skip
    assert len(messages) == 1
    assert f"nor in {tmp_path / 'nope'} (the lab generates it" in messages[0]


def test_an_unknown_mode_is_refused() -> None:
    messages = failure(
        "-e", "etl_from=2026-11-24T05", "-e", "etl_to=2026-11-24T07",
        "-e", "etl_rerun_mode=docker",
    )  # fmt: skip
    assert any("etl_rerun_mode" in m and "docker" in m for m in messages)


@pytest.mark.parametrize("mode", ["local", "lambda"])
def test_check_mode_validates_and_only_says_what_it_would_do(tmp_path: Path, mode: str) -> None:
    package = tmp_path / "etl.zip"
    package.write_bytes(b"")
    result = run_playbook(
        RERUN_PLAYBOOK,
        "--check",
        "-e", "etl_from=2026-11-01T00", "-e", "etl_to=2026-11-08T00",
        "-e", "etl_force=true", "-e", f"etl_rerun_mode={mode}", "-e", "etl_rerun_chunk_hours=24",
        extra_vars={
            "etl_rerun_package": str(package),
            "etl_rerun_dw_password": "unused",
            "etl_rerun_raw_bucket": "unused",
        },
    )  # fmt: skip
    assert result.returncode == 0, result.output
    [message] = result.messages("Say what a real run would do (check mode stops here)")
    assert message.startswith(
        f"Check mode: the inputs are valid. A run would load 169 hour(s) in 8 chunk(s) "
        f"({mode} mode): 2026-11-01T00 .. 2026-11-01T23, 2026-11-02T00 .. 2026-11-02T23"
    )
    assert message.endswith("2026-11-08T00 .. 2026-11-08T00.")
    assert result.stats["changed"] == 0
    ran = {t["name"] for t in result.tasks if not t["result"].get("skipped")}
    assert "Invoke the ETL function's alias" not in ran
    assert "Run the packaged handler" not in ran
