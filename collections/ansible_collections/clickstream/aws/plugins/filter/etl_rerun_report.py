# Copyright: Clickstream platform contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readable lines of the ETL rerun's chunk summaries (role etl_rerun).

Each summary is what the ETL handler returned (the ETL's README) plus a
``chunk`` key, ``{from, to, hours}``, added by the role. Three filters, each
documented in the YAML file of its name beside this one (``ansible-doc -t
filter clickstream.aws.<name>``):

- ``clickstream.aws.etl_rerun_chunk_lines``: one chunk as lines of text;
- ``clickstream.aws.etl_rerun_total_lines``: the whole rerun as a line of text;
- ``clickstream.aws.etl_rerun_totals``: the counts summed over the chunks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

LOAD_COUNTS = (
    "objects_seen",
    "objects_loaded",
    "objects_already_loaded",
    "objects_rejected",
    "events_read",
    "rows_inserted",
    "rows_duplicate",
    "events_rejected",
)
# what a reclassification (action reclassify) counts
RECLASSIFY_COUNTS = ("hours_classified", "rows_read", "rows_reclassified", "hours_changed")
KEYS_SHOWN_PER_HOUR = 20


def _span(chunk: Mapping[str, Any]) -> str:
    return f"{chunk['from']} .. {chunk['to']} ({chunk['hours']} h)"


def _load_line(prefix: str, counts: Mapping[str, Any], duration_ms: Any) -> str:
    return (
        f"{prefix}: objects seen {counts.get('objects_seen', 0)}, "
        f"loaded {counts.get('objects_loaded', 0)}, "
        f"already loaded {counts.get('objects_already_loaded', 0)}, "
        f"rejected {counts.get('objects_rejected', 0)}; "
        f"events read {counts.get('events_read', 0)}, "
        f"rows inserted {counts.get('rows_inserted', 0)}, "
        f"duplicate {counts.get('rows_duplicate', 0)}, "
        f"events rejected {counts.get('events_rejected', 0)}; {duration_ms} ms"
    )


def _dry_lines(prefix: str, summary: Mapping[str, Any]) -> list[str]:
    seen, to_load = summary.get("objects_seen", 0), summary.get("objects_to_load", 0)
    lines = [
        f"{prefix}, dry run: {seen} object(s), {seen - to_load} already loaded, {to_load} to load"
    ]
    for hour in summary.get("hours", []):
        lines.append(
            f"  {hour['hour']}: {hour['objects']} object(s), "
            f"{hour['already_loaded']} already loaded, {hour['to_load']} to load"
        )
        keys = hour.get("keys_to_load", [])
        lines += [f"    {key}" for key in keys[:KEYS_SHOWN_PER_HOUR]]
        if hour["to_load"] > KEYS_SHOWN_PER_HOUR:
            lines.append(f"    ... and {hour['to_load'] - KEYS_SHOWN_PER_HOUR} more")
    return lines


def _reclassify_line(prefix: str, counts: Mapping[str, Any], dry_run: bool) -> str:
    changed = counts.get("rows_reclassified", 0)
    return (
        f"{prefix}, reclassify{', dry run' if dry_run else ''}: "
        f"{counts.get('rows_read', 0)} row(s) in {counts.get('hours_classified', 0)} hour(s), "
        f"{changed} {'would change' if dry_run else 'changed'} class"
        f" in {counts.get('hours_changed', 0)} hour(s)"
    )


def _change_lines(changes: Mapping[str, Any]) -> list[str]:
    return [f"  {change}: {count}" for change, count in changes.items()]


def chunk_lines(summary: Mapping[str, Any]) -> list[str]:
    """One chunk: a line of counts, or with a dry run a line per hour and the keys to load;
    a reclassification's counts and its most common class changes."""
    prefix = _span(summary["chunk"])
    if summary.get("trigger") == "reclassify":
        dry_run = bool(summary.get("dry_run"))
        line = _reclassify_line(prefix, summary, dry_run)
        if not dry_run:
            line += (
                f", rollups of {summary.get('rollup_hours_refreshed', 0)} hour(s) refreshed;"
                f" {summary.get('duration_ms', '?')} ms (run {summary.get('run_id')})"
            )
        return [line, *_change_lines(summary.get("class_changes", {}))]
    if summary.get("dry_run"):
        return _dry_lines(prefix, summary)
    line = _load_line(prefix, summary, summary.get("duration_ms", "?"))
    if summary.get("run_id") is not None:
        line += f" (run {summary['run_id']})"
    return [line]


def total_lines(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The whole rerun: the counts summed over its chunks."""
    if not summaries:
        return ["Total: nothing was processed"]
    first, last = summaries[0]["chunk"], summaries[-1]["chunk"]
    hours = sum(s["chunk"]["hours"] for s in summaries)
    prefix = f"Total, {first['from']} .. {last['to']} ({hours} h, {len(summaries)} chunk(s))"
    if summaries[0].get("trigger") == "reclassify":
        dry_run = bool(summaries[0].get("dry_run"))
        totals = {name: sum(int(s.get(name, 0)) for s in summaries) for name in RECLASSIFY_COUNTS}
        line = _reclassify_line(prefix, totals, dry_run)
        return [line + ("; nothing was written" if dry_run else "")]
    if summaries[0].get("dry_run"):
        seen = sum(s.get("objects_seen", 0) for s in summaries)
        to_load = sum(s.get("objects_to_load", 0) for s in summaries)
        return [
            f"{prefix}, dry run: {seen} object(s), {seen - to_load} already loaded, "
            f"{to_load} to load; nothing was written"
        ]
    totals = {name: sum(int(s.get(name, 0)) for s in summaries) for name in LOAD_COUNTS}
    duration = sum(int(s.get("duration_ms", 0)) for s in summaries)
    return [_load_line(prefix, totals, duration)]


def totals(summaries: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """The counts summed over the chunks, as a dict (for callers that assert on them)."""
    names = (*LOAD_COUNTS, *RECLASSIFY_COUNTS, "objects_to_load", "duration_ms")
    return {name: sum(int(s.get(name, 0)) for s in summaries) for name in names}


class FilterModule:
    """The report filters, by the names they are called with."""

    def filters(self) -> dict[str, Any]:
        return {
            "etl_rerun_chunk_lines": chunk_lines,
            "etl_rerun_total_lines": total_lines,
            "etl_rerun_totals": totals,
        }
