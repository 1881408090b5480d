"""Which UTC hours an invocation processes.

* An EventBridge scheduled event (it has ``"time"``) -> the hour before ``time``
  plus ``lookback_hours`` hours before it, to pick up late objects.
* ``{"from": "YYYY-MM-DDTHH", "to": "YYYY-MM-DDTHH"}`` -> those hours, inclusive;
  ``"dry_run": true`` lists what would load without writing.  With
  ``"action": "reclassify"`` the loaded events of those hours are classified again
  (etl_reclassify) instead; the dry run counts the rows that would change class.
* Anything else -> :class:`RequestError` with a message saying what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

HOUR_FORMAT = "%Y-%m-%dT%H"
HOUR_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}$")
MANUAL_KEYS = frozenset({"from", "to", "dry_run", "action"})
# what a manual request does with its hours -> the run's trigger
ACTIONS = {"load": "manual", "reclassify": "reclassify"}
EXPECTED = (
    'expected an EventBridge scheduled event (with "time") or '
    '{"from": "YYYY-MM-DDTHH", "to": "YYYY-MM-DDTHH"} (optionally "dry_run": true,'
    ' "action": "load" or "reclassify")'
)


class RequestError(ValueError):
    """The invocation's event is not something the ETL accepts."""


@dataclass(frozen=True)
class Request:
    trigger: str  # "schedule" | "manual" | "reclassify"
    hours: tuple[datetime, ...]
    dry_run: bool = False


def format_hour(hour: datetime) -> str:
    return hour.astimezone(UTC).strftime(HOUR_FORMAT)


def hour_prefix(hour: datetime) -> str:
    return hour.astimezone(UTC).strftime("events/%Y/%m/%d/%H/")


def parse_hour(value: Any, name: str) -> datetime:
    if not isinstance(value, str) or not HOUR_PATTERN.match(value):
        raise RequestError(f'"{name}" must be a UTC hour formatted YYYY-MM-DDTHH, got {value!r}')
    try:
        return datetime.strptime(value, HOUR_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise RequestError(f'"{name}" is not a valid date and hour: {value!r}') from None


def parse_event_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise RequestError(f'scheduled event "time" must be an ISO-8601 string, got {value!r}')
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RequestError(f'scheduled event "time" is not ISO-8601: {value!r}') from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def hour_range(first: datetime, last: datetime) -> tuple[datetime, ...]:
    hours, current = [], first
    while current <= last:
        hours.append(current)
        current += timedelta(hours=1)
    return tuple(hours)


def resolve(event: Any, *, lookback_hours: int, max_hours: int) -> Request:
    if not isinstance(event, dict):
        raise RequestError(f"event must be a JSON object; {EXPECTED}")
    if "from" in event or "to" in event:
        unknown = sorted(set(event) - MANUAL_KEYS)
        if unknown:
            raise RequestError(f"unknown keys {unknown} in a manual request; {EXPECTED}")
        for name in ("from", "to"):
            if name not in event:
                raise RequestError(
                    f'a manual request needs both "from" and "to"; "{name}" is missing'
                )
        first, last = parse_hour(event["from"], "from"), parse_hour(event["to"], "to")
        if last < first:
            raise RequestError(f'"to" ({event["to"]}) is before "from" ({event["from"]})')
        count = int((last - first) / timedelta(hours=1)) + 1
        if count > max_hours:
            raise RequestError(
                f"{count} hours requested, more than the limit of {max_hours} per invocation "
                "(ETL_MAX_HOURS_PER_RUN): split the range"
            )
        dry_run = event.get("dry_run", False)
        if not isinstance(dry_run, bool):
            raise RequestError(f'"dry_run" must be true or false, got {dry_run!r}')
        action = event.get("action", "load")
        if action not in ACTIONS:
            raise RequestError(f'"action" must be one of {sorted(ACTIONS)}, got {action!r}')
        return Request(ACTIONS[action], hour_range(first, last), dry_run)
    if "time" in event:
        previous = parse_event_time(event["time"]).replace(
            minute=0, second=0, microsecond=0
        ) - timedelta(hours=1)
        return Request("schedule", hour_range(previous - timedelta(hours=lookback_hours), previous))
    raise RequestError(f"unrecognised event with keys {sorted(event)[:10]}; {EXPECTED}")
