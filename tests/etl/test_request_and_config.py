"""Unit tests: which hours an invocation covers, the settings, logs and EMF metrics."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from clickstream_etl import etl_config, etl_window


def hours(request: etl_window.Request) -> list[str]:
    return [etl_window.format_hour(h) for h in request.hours]


# ---------------------------------------------------------------------------------------------
# the window
# ---------------------------------------------------------------------------------------------
SCHEDULED = {
    "version": "0",
    "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2024-05-01T13:05:00Z",
    "region": "ap-southeast-1",
    "resources": ["arn:aws:events:ap-southeast-1:123456789012:rule/clickstream-etl-hourly"],
    "detail": {},
}


def test_scheduled_event_is_previous_hour_plus_lookback() -> None:
    request = etl_window.resolve(SCHEDULED, lookback_hours=2, max_hours=168)
    assert request.trigger == "schedule"
    assert hours(request) == ["2024-05-01T10", "2024-05-01T11", "2024-05-01T12"]
    assert request.dry_run is False


def test_scheduled_event_without_lookback_is_only_the_previous_hour() -> None:
    request = etl_window.resolve(SCHEDULED, lookback_hours=0, max_hours=168)
    assert hours(request) == ["2024-05-01T12"]


def test_scheduled_event_just_after_midnight_crosses_the_day() -> None:
    event = {**SCHEDULED, "time": "2024-05-01T00:00:00Z"}
    request = etl_window.resolve(event, lookback_hours=1, max_hours=168)
    assert hours(request) == ["2024-04-30T22", "2024-04-30T23"]


def test_scheduled_time_with_offset_is_converted_to_utc() -> None:
    event = {**SCHEDULED, "time": "2024-05-01T15:30:00+02:00"}
    request = etl_window.resolve(event, lookback_hours=0, max_hours=168)
    assert hours(request) == ["2024-05-01T12"]


def test_manual_range_is_inclusive() -> None:
    request = etl_window.resolve(
        {"from": "2024-02-28T22", "to": "2024-02-29T01"}, lookback_hours=2, max_hours=168
    )
    assert request.trigger == "manual"
    assert hours(request) == ["2024-02-28T22", "2024-02-28T23", "2024-02-29T00", "2024-02-29T01"]


def test_manual_single_hour_and_dry_run() -> None:
    request = etl_window.resolve(
        {"from": "2024-05-01T10", "to": "2024-05-01T10", "dry_run": True},
        lookback_hours=2,
        max_hours=168,
    )
    assert hours(request) == ["2024-05-01T10"]
    assert request.dry_run is True


def test_manual_reclassification_and_its_dry_run() -> None:
    event = {"from": "2024-05-01T00", "to": "2024-05-01T23", "action": "reclassify"}
    request = etl_window.resolve(event, lookback_hours=2, max_hours=168)
    assert (request.trigger, len(request.hours), request.dry_run) == ("reclassify", 24, False)
    dry = etl_window.resolve({**event, "dry_run": True}, lookback_hours=2, max_hours=168)
    assert (dry.trigger, dry.dry_run) == ("reclassify", True)
    loaded = etl_window.resolve({**event, "action": "load"}, lookback_hours=2, max_hours=168)
    assert loaded.trigger == "manual"


def test_hour_prefix_matches_the_ingest_layout() -> None:
    hour = datetime(2024, 5, 1, 9, tzinfo=UTC)
    assert etl_window.hour_prefix(hour) == "events/2024/05/01/09/"


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"from": "2024-05-01 10", "to": "2024-05-01T10"}, '"from" must be a UTC hour formatted'),
        ({"from": "2024-05-01T10", "to": "2024-05-01T10:00"}, '"to" must be a UTC hour'),
        ({"from": 2024, "to": "2024-05-01T10"}, '"from" must be a UTC hour'),
        ({"from": "2024-02-30T10", "to": "2024-03-01T10"}, '"from" is not a valid date and hour'),
        ({"from": "2024-05-01T24", "to": "2024-05-01T10"}, '"from" is not a valid date and hour'),
        ({"from": "2024-05-01T10", "to": "2024-05-01T09"}, '"to" (2024-05-01T09) is before "from"'),
        ({"from": "2024-05-01T10"}, '"to" is missing'),
        ({"to": "2024-05-01T10"}, '"from" is missing'),
        (
            {"from": "2024-05-01T10", "to": "2024-05-01T10", "extra": 1},
            "unknown keys ['extra'] in a manual request",
        ),
        (
            {"from": "2024-05-01T10", "to": "2024-05-01T10", "dry_run": "yes"},
            '"dry_run" must be true or false',
        ),
        ({"from": "2024-01-01T00", "to": "2024-01-08T00"}, "169 hours requested, more than"),
        (
            {"from": "2024-05-01T10", "to": "2024-05-01T10", "action": "delete"},
            "\"action\" must be one of ['load', 'reclassify'], got 'delete'",
        ),
        ({"time": "soon"}, 'scheduled event "time" is not ISO-8601'),
        ({"time": 1714568700}, 'scheduled event "time" must be an ISO-8601 string'),
        ({"detail-type": "Something"}, "unrecognised event with keys ['detail-type']"),
        ({}, "unrecognised event"),
        ([], "event must be a JSON object"),
        ("2024-05-01T10", "event must be a JSON object"),
        (None, "event must be a JSON object"),
    ],
)
def test_bad_requests_get_a_clear_error(event: object, message: str) -> None:
    with pytest.raises(etl_window.RequestError) as caught:
        etl_window.resolve(event, lookback_hours=2, max_hours=168)
    assert message in str(caught.value)


# ---------------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------------
BASE_ENV = {
    "RAW_BUCKET_NAME": "raw",
    "DW_PG_HOST": "10.0.2.10",
    "DW_PG_USER": "etl_writer",
    "DW_PG_PASSWORD": "secret",
}


def test_defaults() -> None:
    settings = etl_config.Settings.from_env(BASE_ENV)
    assert settings.pg_port == 5432
    assert settings.pg_database == "clickstream_dw"
    assert settings.pg_sslmode is None
    assert (settings.target_schema, settings.target_table) == ("public", "clickstream_events")
    assert settings.max_records_per_batch == 5000
    assert settings.lookback_hours == 2
    assert settings.max_document_bytes == 16 * 1024 * 1024


def test_the_former_object_size_limit_is_refused_with_its_replacement() -> None:
    """Newline-delimited objects may be of any size now: a limit on objects would be
    silently ignored, so its variable says what replaced it."""
    with pytest.raises(etl_config.ConfigError, match="ETL_MAX_DOCUMENT_BYTES limits a JSON"):
        etl_config.Settings.from_env({**BASE_ENV, "ETL_MAX_OBJECT_BYTES": "1048576"})
    settings = etl_config.Settings.from_env({**BASE_ENV, "ETL_MAX_DOCUMENT_BYTES": "1048576"})
    assert settings.max_document_bytes == 1048576


@pytest.mark.parametrize("name", ["RAW_BUCKET_NAME", "DW_PG_HOST", "DW_PG_USER"])
def test_required_variables(name: str) -> None:
    env = {k: v for k, v in BASE_ENV.items() if k != name}
    with pytest.raises(etl_config.ConfigError, match=f"environment variable {name} is required"):
        etl_config.Settings.from_env(env)


@pytest.mark.parametrize(
    ("raw", "mode"),
    [
        ("true", "require"),
        ("1", "require"),
        ("ON", "require"),
        ("false", "disable"),
        ("verify-full", "verify-full"),
        ("verify-ca", "verify-ca"),
        ("prefer", "prefer"),
        ("", None),
    ],
)
def test_dw_pg_ssl_values(raw: str, mode: str | None) -> None:
    settings = etl_config.Settings.from_env({**BASE_ENV, "DW_PG_SSL": raw})
    assert settings.pg_sslmode == mode


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DW_PG_SSL": "sometimes"}, "DW_PG_SSL must be true/false or one of"),
        ({"DW_PG_PORT": "postgres"}, "DW_PG_PORT must be an integer, got 'postgres'"),
        ({"DW_PG_PORT": "70000"}, "DW_PG_PORT must be between 1 and 65535"),
        ({"MAX_RECORDS_PER_BATCH": "0"}, "MAX_RECORDS_PER_BATCH must be between 1 and"),
        ({"ETL_LOOKBACK_HOURS": "-1"}, "ETL_LOOKBACK_HOURS must be between 0 and 72"),
        ({"TARGET_TABLE": "events; DROP TABLE x"}, "TARGET_TABLE must be a lower-case identifier"),
        ({"TARGET_TABLE": "a.b.c"}, "TARGET_TABLE must be"),
        ({"TARGET_TABLE": "Events"}, "TARGET_TABLE must be"),
        ({"ETL_EXTRA_BOT_AGENTS": "sitecheck, ab"}, "ETL_EXTRA_BOT_AGENTS must be comma-separated"),
        ({"ETL_BOT_EVENTS_PER_SECOND": "0"}, "ETL_BOT_EVENTS_PER_SECOND must be between 1 and"),
    ],
)
def test_invalid_settings(env: dict, message: str) -> None:
    with pytest.raises(etl_config.ConfigError, match=message.replace("(", r"\(")):
        etl_config.Settings.from_env({**BASE_ENV, **env})


def test_extra_bot_agents_are_trimmed_lower_case_and_unique() -> None:
    settings = etl_config.Settings.from_env(
        {**BASE_ENV, "ETL_EXTRA_BOT_AGENTS": " SiteCheck/, ,uptime-robot,sitecheck/"}
    )
    assert settings.extra_bot_agents == ("sitecheck/", "uptime-robot")
    assert etl_config.Settings.from_env(BASE_ENV).extra_bot_agents == ()


def test_target_table_with_schema() -> None:
    settings = etl_config.Settings.from_env({**BASE_ENV, "TARGET_TABLE": "staging.events_v2"})
    assert (settings.target_schema, settings.target_table) == ("staging", "events_v2")


def test_handler_rejects_a_bad_event_before_touching_s3_or_the_database(
    etl_handler, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    for key, value in BASE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DW_PG_HOST", "192.0.2.1")  # TEST-NET: never reached
    with pytest.raises(etl_window.RequestError, match="unrecognised event"):
        etl_handler.handler({"hello": "world"}, None)
    log = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert log[-1]["level"] == "ERROR"
    assert "unrecognised event" in log[-1]["error"]


def test_handler_fails_clearly_without_its_bucket(
    etl_handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAW_BUCKET_NAME", raising=False)
    with pytest.raises(etl_config.ConfigError, match="RAW_BUCKET_NAME is required"):
        etl_handler.handler({"from": "2024-05-01T10", "to": "2024-05-01T10"}, None)
