"""Structured JSON logs and CloudWatch Embedded Metric Format (EMF) on stdout.

Lambda ships stdout to CloudWatch Logs; an EMF line there becomes metrics with no
API call (the function needs no network path to CloudWatch, which matters in a
VPC without NAT).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

SERVICE = "clickstream-etl"


class JsonLogger:
    """``log.info("message", key=value)`` -> one JSON line with the bound context."""

    def __init__(self, stream: TextIO | None = None, **context: Any) -> None:
        self._stream = stream
        self.context: dict[str, Any] = {"service": SERVICE, **context}

    def bind(self, **context: Any) -> None:
        self.context.update(context)

    def _emit(self, level: str, message: str, fields: Mapping[str, Any]) -> None:
        record = {
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "level": level,
            "message": message,
            **self.context,
            **fields,
        }
        stream = self._stream or sys.stdout
        stream.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
        stream.flush()

    def info(self, message: str, **fields: Any) -> None:
        self._emit("INFO", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._emit("WARNING", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit("ERROR", message, fields)


def emf_record(
    namespace: str,
    metrics: Mapping[str, int | float],
    dimensions: Mapping[str, str],
    properties: Mapping[str, Any] | None = None,
    units: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One EMF document: metric values at the top level, described under ``_aws``."""
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


def emit_metrics(record: Mapping[str, Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
    stream.flush()
