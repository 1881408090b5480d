"""The rerun role's plan module, local invoker and report filters (clickstream.aws), called
directly."""

from __future__ import annotations

import json
import sys
import zipfile
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

import pytest

from ansible_collections.clickstream.aws.plugins.filter import etl_rerun_report as report
from ansible_collections.clickstream.aws.plugins.modules import etl_package_invoke as invoke_module
from ansible_collections.clickstream.aws.plugins.modules import etl_rerun_plan as plan_module


def plan(first: str, last: str, **kwargs):
    options = {"max_hours": 168, "force": False, "chunk_hours": 6, **kwargs}
    return plan_module.plan(first, last, **options)


# ---------------------------------------------------------------------------------------------
# plan: validation and chunks
# ---------------------------------------------------------------------------------------------
def test_a_range_is_split_into_consecutive_chunks_covering_every_hour() -> None:
    hours, chunks = plan("2026-11-24T05", "2026-11-25T02", chunk_hours=6)
    assert hours == 22
    assert chunks == [
        {"from": "2026-11-24T05", "to": "2026-11-24T10", "hours": 6},
        {"from": "2026-11-24T11", "to": "2026-11-24T16", "hours": 6},
        {"from": "2026-11-24T17", "to": "2026-11-24T22", "hours": 6},
        {"from": "2026-11-24T23", "to": "2026-11-25T02", "hours": 4},
    ]


def test_one_hour_is_one_chunk_and_month_ends_roll_over() -> None:
    assert plan("2026-11-24T05", "2026-11-24T05") == (
        1,
        [{"from": "2026-11-24T05", "to": "2026-11-24T05", "hours": 1}],
    )
    hours, chunks = plan("2028-02-28T23", "2028-03-01T00", chunk_hours=24)
    assert hours == 26  # 2028 is a leap year
    assert chunks[0]["to"] == "2028-02-29T22"
    assert chunks[-1] == {"from": "2028-02-29T23", "to": "2028-03-01T00", "hours": 2}


def test_the_width_limit_and_force() -> None:
    assert plan("2026-11-01T00", "2026-11-07T23")[0] == 168
    with pytest.raises(plan_module.PlanError, match=r"169 hours requested .* limit of 168"):
        plan("2026-11-01T00", "2026-11-08T00")
    hours, chunks = plan("2026-11-01T00", "2026-11-08T00", force=True, chunk_hours=24)
    assert hours == 169
    assert len(chunks) == 8
    assert sum(c["hours"] for c in chunks) == 169


@pytest.mark.parametrize(
    ("first", "last", "options", "message"),
    [
        ("", "", {}, "etl_from and etl_to are required"),
        ("2026-11-24T05", "", {}, "etl_to is required"),
        ("2026-11-24 05", "2026-11-24T07", {}, "etl_from must be a UTC hour formatted"),
        ("2026-11-24T05", "2026-11-24T7", {}, "etl_to must be a UTC hour formatted"),
        ("2026-11-24T24", "2026-11-25T01", {}, "etl_from is not a real date and hour"),
        ("2026-11-24T07", "2026-11-24T05", {}, "etl_to (2026-11-24T05) is before etl_from"),
        ("2026-11-24T05", "2026-11-24T07", {"chunk_hours": 0}, "between 1 and 168"),
        ("2026-11-24T05", "2026-11-24T07", {"chunk_hours": 169}, "between 1 and 168"),
        ("2026-11-24T05", "2026-11-24T07", {"max_hours": 0}, "at least 1"),
    ],
)
def test_bad_inputs_are_refused_with_what_is_expected(
    first: str, last: str, options: dict, message: str
) -> None:
    with pytest.raises(plan_module.PlanError) as raised:
        plan(first, last, **options)
    assert message in str(raised.value)


# ---------------------------------------------------------------------------------------------
# the local invoker
# ---------------------------------------------------------------------------------------------
HANDLER = """
import json, os, sys
def handler(event, context):
    print(json.dumps({"level": "INFO", "message": "handled"}))  # a log line, on stdout
    if event.get("fail"):
        raise RuntimeError("database went away")
    import psycopg2
    return {"event": event, "bucket": os.environ.get("RAW_BUCKET_NAME"),
            "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
            "psycopg2": os.path.dirname(psycopg2.__file__), "objects_loaded": 1}
"""


def make_zip(path: Path, entries: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return path


def invoke(package: Path, event: dict, environment: dict | None = None, **options) -> dict:
    return invoke_module.invoke(
        str(package), event, environment or {}, sys.executable, 60, 5, **options
    )


def test_the_handler_runs_from_the_package_with_the_given_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://not-this-one")  # the caller's is dropped
    package = make_zip(tmp_path / "etl.zip", {"handler.py": HANDLER})
    result = invoke(package, {"from": "2026-11-24T05"}, {"RAW_BUCKET_NAME": "raw"})
    assert result["summary"]["event"] == {"from": "2026-11-24T05"}
    assert result["summary"]["bucket"] == "raw"
    assert result["summary"]["endpoint"] is None
    assert result["package_notes"] == []
    # the handler's stdout is its log, kept apart from the result
    assert json.loads(result["log_tail"][-1])["message"] == "handled"


def test_a_native_package_built_for_another_platform_is_replaced_by_the_local_one(
    tmp_path: Path,
) -> None:
    foreign = "_psycopg.cpython-312-aarch64-linux-gnu.so"
    assert foreign.split(".", 1)[1] not in [s.lstrip(".") for s in EXTENSION_SUFFIXES]
    package = make_zip(
        tmp_path / "etl.zip",
        {
            "handler.py": HANDLER,
            "psycopg2/__init__.py": "raise ImportError('the aarch64 build')\n",
            f"psycopg2/{foreign}": "not an ELF file",
        },
    )
    result = invoke(package, {})
    [note] = result["package_notes"]
    assert note.startswith(f"psycopg2: the package's build ({foreign}) does not load")
    # the controller's psycopg2, not the package's
    assert "etl-package-" not in result["summary"]["psycopg2"]


def test_a_native_package_for_this_platform_is_kept(tmp_path: Path) -> None:
    package = make_zip(
        tmp_path / "etl.zip",
        {
            "handler.py": HANDLER,
            "psycopg2/__init__.py": "",
            f"psycopg2/_psycopg{EXTENSION_SUFFIXES[0]}": "",
        },
    )
    result = invoke(package, {})
    assert result["package_notes"] == []
    assert "etl-package-" in result["summary"]["psycopg2"]


def elf_header(machine: int) -> bytes:
    """The first 20 bytes of a 64-bit little-endian ELF shared object for ``machine``."""
    return (
        b"\x7fELF\x02\x01\x01"
        + bytes(9)
        + (3).to_bytes(2, "little")
        + machine.to_bytes(2, "little")
    )


def test_an_abi3_extension_for_another_machine_is_foreign(tmp_path: Path) -> None:
    own = invoke_module.elf_machine(str(Path(sys.executable).resolve()))
    assert own is not None
    other = 183 if own != 183 else 62  # AArch64, or x86-64 on an AArch64 machine
    package = tmp_path / "pkg"
    (package / "cryptography").mkdir(parents=True)
    (package / "cryptography" / "_rust.abi3.so").write_bytes(elf_header(other) + bytes(64))
    (package / "native_ok").mkdir()
    (package / "native_ok" / "_ok.abi3.so").write_bytes(elf_header(own) + bytes(64))
    found = invoke_module.foreign_packages(str(package), list(EXTENSION_SUFFIXES), own)
    assert found == {"cryptography": "_rust.abi3.so"}


def test_a_handler_error_fails_with_its_type_message_and_logs(tmp_path: Path) -> None:
    package = make_zip(tmp_path / "etl.zip", {"handler.py": HANDLER})
    with pytest.raises(invoke_module.InvokeError) as raised:
        invoke(package, {"fail": True})
    assert str(raised.value) == "the ETL handler failed: RuntimeError: database went away"
    assert any("handled" in line for line in raised.value.result["log_tail"])


def test_the_handler_option_names_a_function_of_a_package_module(tmp_path: Path) -> None:
    package = make_zip(
        tmp_path / "etl.zip",
        {
            "clickstream_etl/__init__.py": "",
            "clickstream_etl/handler.py": HANDLER.replace("def handler(", "def run("),
        },
    )
    result = invoke(package, {"from": "2026-11-24T05"}, handler="clickstream_etl.handler.run")
    assert result["summary"]["event"] == {"from": "2026-11-24T05"}
    # the default, handler.handler, is not in this package
    with pytest.raises(invoke_module.InvokeError, match=r"no handler\.py at its root"):
        invoke(package, {})


@pytest.mark.parametrize("handler", ["handler", "handler.", ".handler", "my-etl.handler", ""])
def test_a_handler_that_is_not_module_dot_function_is_refused(tmp_path: Path, handler: str) -> None:
    package = make_zip(tmp_path / "etl.zip", {"handler.py": HANDLER})
    with pytest.raises(invoke_module.InvokeError, match=r"module\.function"):
        invoke(package, {}, handler=handler)


def test_a_handler_function_missing_from_its_module_fails_with_its_name(tmp_path: Path) -> None:
    package = make_zip(tmp_path / "etl.zip", {"handler.py": HANDLER})
    with pytest.raises(invoke_module.InvokeError, match=r"AttributeError: .*'lambda_handler'"):
        invoke(package, {}, handler="handler.lambda_handler")


def test_a_missing_or_foreign_package_is_named(tmp_path: Path) -> None:
    with pytest.raises(invoke_module.InvokeError, match=r"run site\.yml \(or the lambdas tag\)"):
        invoke(tmp_path / "missing.zip", {})
    (tmp_path / "broken.zip").write_text("not a zip")
    with pytest.raises(invoke_module.InvokeError, match="not a readable zip"):
        invoke(tmp_path / "broken.zip", {})
    other = make_zip(tmp_path / "other.zip", {"main.py": ""})
    with pytest.raises(invoke_module.InvokeError, match=r"no handler\.py at its root"):
        invoke(other, {})
    escaping = make_zip(tmp_path / "escape.zip", {"handler.py": "", "../evil.py": ""})
    with pytest.raises(invoke_module.InvokeError, match="points outside the package"):
        invoke(escaping, {})


# ---------------------------------------------------------------------------------------------
# report filters
# ---------------------------------------------------------------------------------------------
LOADED = {
    "run_id": 7,
    "status": "succeeded",
    "objects_seen": 5,
    "objects_loaded": 3,
    "objects_already_loaded": 2,
    "objects_rejected": 1,
    "objects_failed": 0,
    "events_read": 12,
    "events_rejected": 1,
    "rows_inserted": 9,
    "rows_duplicate": 2,
    "duration_ms": 120,
    "chunk": {"from": "2026-11-24T05", "to": "2026-11-24T10", "hours": 6},
}


def test_chunk_and_total_lines_carry_every_count() -> None:
    [line] = report.chunk_lines(LOADED)
    assert line == (
        "2026-11-24T05 .. 2026-11-24T10 (6 h): objects seen 5, loaded 3, already loaded 2, "
        "rejected 1; events read 12, rows inserted 9, duplicate 2, events rejected 1; "
        "120 ms (run 7)"
    )
    second = {**LOADED, "chunk": {"from": "2026-11-24T11", "to": "2026-11-24T12", "hours": 2}}
    [total] = report.total_lines([LOADED, second])
    assert total.startswith("Total, 2026-11-24T05 .. 2026-11-24T12 (8 h, 2 chunk(s)): ")
    assert "objects seen 10, loaded 6, already loaded 4, rejected 2" in total
    assert "events read 24, rows inserted 18, duplicate 4, events rejected 2; 240 ms" in total
    assert report.totals([LOADED, second])["rows_inserted"] == 18
    assert report.totals([LOADED, second])["events_read"] == 24


def test_a_summary_without_events_read_says_zero() -> None:
    """An ETL from before migration 0007 does not count the events it read."""
    older = {k: v for k, v in LOADED.items() if k != "events_read"}
    assert "; events read 0, rows inserted 9," in report.chunk_lines(older)[0]


def test_dry_run_lines_list_each_hour_and_the_keys_to_load() -> None:
    keys = [f"events/2026/11/24/05/event-{n}.json" for n in range(25)]
    summary = {
        "dry_run": True,
        "hours": [
            {
                "hour": "2026-11-24T05",
                "objects": 27,
                "already_loaded": 2,
                "to_load": 25,
                "keys_to_load": keys,
            },
            {"hour": "2026-11-24T06", "objects": 0, "already_loaded": 0, "to_load": 0},
        ],
        "objects_seen": 27,
        "objects_to_load": 25,
        "chunk": {"from": "2026-11-24T05", "to": "2026-11-24T06", "hours": 2},
    }
    lines = report.chunk_lines(summary)
    assert lines[0] == (
        "2026-11-24T05 .. 2026-11-24T06 (2 h), dry run: 27 object(s), 2 already loaded, 25 to load"
    )
    assert lines[1] == "  2026-11-24T05: 27 object(s), 2 already loaded, 25 to load"
    assert f"    {keys[0]}" in lines
    assert f"    {keys[20]}" not in lines
    assert "    ... and 5 more" in lines
    assert lines[-1] == "  2026-11-24T06: 0 object(s), 0 already loaded, 0 to load"
    [total] = report.total_lines([summary])
    assert total.endswith("27 object(s), 2 already loaded, 25 to load; nothing was written")


RECLASSIFIED = {
    "run_id": 7,
    "trigger": "reclassify",
    "status": "succeeded",
    "hours_classified": 24,
    "rows_read": 1200,
    "rows_reclassified": 30,
    "hours_changed": 3,
    "class_changes": {"device_type: other -> bot": 30, "is_bot: False -> True": 30},
    "rollup_hours_refreshed": 3,
    "duration_ms": 900,
    "chunk": {"from": "2026-11-24T00", "to": "2026-11-24T23", "hours": 24},
}


def test_a_reclassification_chunk_reads_as_rows_and_class_changes() -> None:
    assert report.chunk_lines(RECLASSIFIED) == [
        "2026-11-24T00 .. 2026-11-24T23 (24 h), reclassify: 1200 row(s) in 24 hour(s),"
        " 30 changed class in 3 hour(s), rollups of 3 hour(s) refreshed; 900 ms (run 7)",
        "  device_type: other -> bot: 30",
        "  is_bot: False -> True: 30",
    ]
    [total] = report.total_lines([RECLASSIFIED, RECLASSIFIED])
    assert total.endswith("reclassify: 2400 row(s) in 48 hour(s), 60 changed class in 6 hour(s)")
    assert report.totals([RECLASSIFIED])["rows_reclassified"] == 30


def test_a_reclassification_dry_run_says_nothing_was_written() -> None:
    dry = {**RECLASSIFIED, "dry_run": True}
    del dry["run_id"]
    lines = report.chunk_lines(dry)
    assert lines[0] == (
        "2026-11-24T00 .. 2026-11-24T23 (24 h), reclassify, dry run: 1200 row(s) in 24 hour(s),"
        " 30 would change class in 3 hour(s)"
    )
    [total] = report.total_lines([dry])
    assert total.endswith("30 would change class in 3 hour(s); nothing was written")
