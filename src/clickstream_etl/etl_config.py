"""Settings from the environment (docs/contracts.md#etl-lambda), validated up front."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from clickstream_etl import etl_transform

SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
SSL_TRUE = frozenset({"true", "1", "yes", "on"})
SSL_FALSE = frozenset({"false", "0", "no", "off"})
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ConfigError(ValueError):
    """A missing or invalid environment variable; the message names it."""


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is required")
    return value


def ssl_mode(raw: str | None) -> str | None:
    """libpq sslmode for DW_PG_SSL: unset -> libpq's default, true -> require, or a mode."""
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip().lower()
    if value in SSL_TRUE:
        return "require"
    if value in SSL_FALSE:
        return "disable"
    if value in SSL_MODES:
        return value
    raise ConfigError(f"DW_PG_SSL must be true/false or one of {', '.join(SSL_MODES)}, got {raw!r}")


def table_name(raw: str | None) -> tuple[str, str]:
    """(schema, table) from TARGET_TABLE: ``name`` or ``schema.name``, lower-case identifiers."""
    value = (raw or "").strip() or "clickstream_events"
    parts = value.split(".")
    if len(parts) > 2 or not all(IDENTIFIER.match(part) for part in parts):
        raise ConfigError(
            f"TARGET_TABLE must be a lower-case identifier or schema.identifier, got {raw!r}"
        )
    return (parts[0], parts[1]) if len(parts) == 2 else ("public", parts[0])


def extra_bot_agents(raw: str | None) -> tuple[str, ...]:
    """ETL_EXTRA_BOT_AGENTS: comma-separated user-agent substrings, matched without case."""
    parts = tuple(dict.fromkeys(p.strip().lower() for p in (raw or "").split(",") if p.strip()))
    for part in parts:
        if len(part) < 3 or len(part) > 200:
            raise ConfigError(
                "ETL_EXTRA_BOT_AGENTS must be comma-separated substrings of 3 to 200 characters,"
                f" got {part!r}"
            )
    return parts


@dataclass(frozen=True)
class Settings:
    bucket: str
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    pg_database: str
    pg_sslmode: str | None
    pg_sslrootcert: str | None
    target_schema: str
    target_table: str
    max_records_per_batch: int
    lookback_hours: int
    max_hours_per_run: int
    fetch_concurrency: int
    load_connections: int
    max_document_bytes: int
    metrics_namespace: str
    time_margin_ms: int
    bot_events_per_second: int
    classify_hours_per_run: int
    extra_bot_agents: tuple[str, ...]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        if env.get("ETL_MAX_OBJECT_BYTES", "").strip():
            raise ConfigError(
                "ETL_MAX_OBJECT_BYTES is no longer read: objects of newline-delimited JSON"
                " may be of any size; ETL_MAX_DOCUMENT_BYTES limits a JSON document"
            )
        schema, table = table_name(env.get("TARGET_TABLE"))
        return cls(
            bucket=_required(env, "RAW_BUCKET_NAME"),
            pg_host=_required(env, "DW_PG_HOST"),
            pg_port=_int(env, "DW_PG_PORT", 5432, 1, 65535),
            pg_user=_required(env, "DW_PG_USER"),
            pg_password=env.get("DW_PG_PASSWORD", ""),
            pg_database=env.get("DW_PG_DATABASE", "").strip() or "clickstream_dw",
            pg_sslmode=ssl_mode(env.get("DW_PG_SSL")),
            pg_sslrootcert=env.get("DW_PG_SSL_ROOT_CERT", "").strip() or None,
            target_schema=schema,
            target_table=table,
            max_records_per_batch=_int(env, "MAX_RECORDS_PER_BATCH", 5000, 1, 1_000_000),
            lookback_hours=_int(env, "ETL_LOOKBACK_HOURS", 2, 0, 72),
            max_hours_per_run=_int(env, "ETL_MAX_HOURS_PER_RUN", 168, 1, 24 * 366),
            fetch_concurrency=_int(env, "ETL_FETCH_CONCURRENCY", 16, 1, 256),
            load_connections=_int(env, "ETL_LOAD_CONNECTIONS", 2, 1, 2),
            max_document_bytes=_int(
                env, "ETL_MAX_DOCUMENT_BYTES", etl_transform.MAX_DOCUMENT_BYTES, 1, 2**31
            ),
            metrics_namespace=env.get("ETL_METRICS_NAMESPACE", "").strip() or "Clickstream/ETL",
            time_margin_ms=_int(env, "ETL_TIME_MARGIN_MS", 30_000, 0, 15 * 60 * 1000),
            bot_events_per_second=_int(env, "ETL_BOT_EVENTS_PER_SECOND", 10, 1, 10_000),
            classify_hours_per_run=_int(env, "ETL_CLASSIFY_HOURS_PER_RUN", 24, 0, 24 * 366),
            extra_bot_agents=extra_bot_agents(env.get("ETL_EXTRA_BOT_AGENTS")),
        )
