"""Structured JSON logs and CloudWatch Embedded Metric Format (EMF) on stdout.

Lambda ships stdout to CloudWatch Logs; an EMF line there becomes metrics with
no API call (a function needs no network path to CloudWatch, which matters in a
VPC without NAT). One line is one JSON object::

    {"timestamp": "2026-12-07T09:30:00.123Z", "level": "INFO",
     "service": "clickstream-etl", "message": "...", <context>, <fields>}
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_DEBUG, _INFO, _WARNING, _ERROR = LEVELS.values()

# Built once: json.dumps with non-default options builds a new encoder per call.
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))


def parse_level(name: str | None) -> int:
    """``DEBUG`` .. ``ERROR`` (any case, ``WARN`` too; default INFO) -> its number."""
    level = (name or "INFO").strip().upper()
    level = "WARNING" if level == "WARN" else level
    if level not in LEVELS:
        raise ValueError(f"must be one of {', '.join(LEVELS)}, got {name!r}")
    return LEVELS[level]


def utc_timestamp() -> str:
    """Now, as ``YYYY-MM-DDTHH:MM:SS.mmmZ``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_line(record: Mapping[str, Any], stream: TextIO | None = None) -> None:
    """One JSON object on one line of ``stream`` (stdout by default)."""
    out = stream or sys.stdout
    out.write(_ENCODER.encode(record) + "\n")
    out.flush()


class JsonLogger:
    """``log.info("message", key=value)`` -> one JSON line with the bound context.

    Lines below ``level`` (a number of ``LEVELS``) are not written.
    """

    def __init__(
        self,
        service: str,
        stream: TextIO | None = None,
        level: int = LEVELS["INFO"],
        **context: Any,
    ) -> None:
        self._stream = stream
        self.level = level
        self.context: dict[str, Any] = {"service": service, **context}

    def bind(self, **context: Any) -> None:
        self.context.update(context)

    def log(self, level: str, message: str, **fields: Any) -> None:
        if LEVELS[level] >= self.level:
            self._write(level, message, fields)

    # One method per level, each checking its level before anything else: a line
    # below the level (a DEBUG line per event, say) costs one comparison.
    def debug(self, message: str, **fields: Any) -> None:
        if self.level <= _DEBUG:
            self._write("DEBUG", message, fields)

    def info(self, message: str, **fields: Any) -> None:
        if self.level <= _INFO:
            self._write("INFO", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        if self.level <= _WARNING:
            self._write("WARNING", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        if self.level <= _ERROR:
            self._write("ERROR", message, fields)

    def _write(self, level: str, message: str, fields: dict[str, Any]) -> None:
        write_line(
            {
                "timestamp": utc_timestamp(),
                "level": level,
                "message": message,
                **self.context,
                **fields,
            },
            self._stream,
        )


def emf_record(
    namespace: str,
    metrics: Mapping[str, int | float],
    dimensions: Mapping[str, str],
    properties: Mapping[str, Any] | None = None,
    units: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One EMF document: metric values at the top level, described under ``_aws``.

    Unitless metrics are counts. The result can be logged on its own
    (``write_line``) or merged into a log line's fields.
    """
    units = units or {}
    return {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [
                        {"Name": name, "Unit": units.get(name, "Count")} for name in metrics
                    ],
                }
            ],
        },
        **dict(properties or {}),
        **dimensions,
        **metrics,
    }
