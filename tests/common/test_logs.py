"""clickstream_common: the JSON log lines, EMF documents and JSON type names both Lambdas use."""

from __future__ import annotations

import io
import json
import re

import pytest

from clickstream_common.json_types import json_type
from clickstream_common.logs import LEVELS, JsonLogger, emf_record, parse_level


def test_json_log_lines_carry_the_bound_context_and_a_utc_timestamp() -> None:
    stream = io.StringIO()
    log = JsonLogger("clickstream-etl", stream, request_id="req-1")
    log.bind(run_id=7)
    log.info("batch loaded", rows=10)
    record = json.loads(stream.getvalue())
    assert record["level"] == "INFO"
    assert record["message"] == "batch loaded"
    assert (record["request_id"], record["run_id"], record["rows"]) == ("req-1", 7, 10)
    assert record["service"] == "clickstream-etl"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])


def test_lines_below_the_logger_level_are_not_written() -> None:
    stream = io.StringIO()
    log = JsonLogger("clickstream-ingest", stream, level=LEVELS["WARNING"])
    log.debug("hidden")
    log.info("hidden")
    log.warning("shown", reason="x")
    log.error("shown too")
    assert [json.loads(line)["level"] for line in stream.getvalue().splitlines()] == [
        "WARNING",
        "ERROR",
    ]


@pytest.mark.parametrize(
    ("name", "level"), [(None, 20), ("debug", 10), (" Warn ", 30), ("ERROR", 40)]
)
def test_level_names(name: str | None, level: int) -> None:
    assert parse_level(name) == level


def test_an_unknown_level_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="must be one of DEBUG, INFO, WARNING, ERROR, got 'LOUD'"):
        parse_level("LOUD")


def test_emf_record_declares_every_metric_with_its_value() -> None:
    record = emf_record(
        "Clickstream/ETL",
        {"RowsInserted": 5, "DurationMs": 12},
        {"Trigger": "schedule"},
        properties={"run_id": 3},
        units={"DurationMs": "Milliseconds"},
    )
    directive = record["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Clickstream/ETL"
    assert directive["Dimensions"] == [["Trigger"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "RowsInserted": "Count",
        "DurationMs": "Milliseconds",
    }
    assert (record["RowsInserted"], record["DurationMs"], record["Trigger"]) == (5, 12, "schedule")
    assert record["run_id"] == 3
    assert isinstance(record["_aws"]["Timestamp"], int)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (None, "null"),
        (True, "boolean"),
        (3, "number"),
        (2.5, "number"),
        ("x", "string"),
        ([1], "array"),
        ({"a": 1}, "object"),
        ((1, 2), "tuple"),
    ],
)
def test_json_type_names(value: object, name: str) -> None:
    assert json_type(value) == name
