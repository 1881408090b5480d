"""Classify loaded events again: after a rule or library update, and once for the rows
loaded before migration 0008 (issue #17).

The unit of work is one UTC hour of events, in its own transaction: its rows are read
with the columns the classification comes from, classified with etl_classify (the
load's own code), and only the rows whose class changed are updated, together with
the queue of the hour's rollups (``etl_pending_rollups``).  An hour holds row locks on
its changed rows only, and the refresh that follows takes the rollups' lock for its
own transaction: the hourly load is never blocked for longer than one hour's update.
Reclassifying with unchanged rules changes nothing and queues nothing.

Rows loaded before 0008 have no classification; migration 0008 lists their hours in
``etl_unclassified_hours``, and :func:`backfill` classifies a bounded number of them
per ETL run, oldest first, until none is left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from psycopg2 import sql
from psycopg2.extras import execute_values

from clickstream_etl import etl_classify, etl_transform
from clickstream_etl.etl_db import Connection

CLASS_COLUMNS = etl_transform.CLASS_COLUMNS
# Hours of unclassified rows (migration 0008) classified by one ETL run.
BACKFILL_HOURS_PER_RUN = 24

READ_SQL = """
SELECT e.event_id, e.ingest_metadata ->> 'userAgent', e.page_url, e.referrer, {columns}
FROM {target} e
WHERE e.event_timestamp >= %(hour)s AND e.event_timestamp < %(next_hour)s
"""
UPDATE_SQL = """
UPDATE {target} e SET ({columns}) = ({values})
FROM etl_reclassified r
WHERE e.event_id = r.event_id
  AND e.event_timestamp >= %(hour)s AND e.event_timestamp < %(next_hour)s
"""


@dataclass
class Reclassified:
    """What a reclassification found: rows read and changed, and how classes moved."""

    hours: int = 0
    rows_read: int = 0
    rows_reclassified: int = 0
    hours_changed: list[datetime] = field(default_factory=list)
    # "device_type: desktop -> bot", "traffic_channel: referral -> organic_search", ...
    changes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, object]:
        return {
            "hours_classified": self.hours,
            "rows_read": self.rows_read,
            "rows_reclassified": self.rows_reclassified,
            "hours_changed": len(self.hours_changed),
            "class_changes": dict(self.changes.most_common(20)),
        }


def classify(user_agent: str | None, page_url: str | None, referrer: str | None) -> tuple:
    """The classification columns of one event, in CLASS_COLUMNS order (as the load)."""
    agent = etl_classify.classify_agent(user_agent)
    reason = "user_agent" if agent.is_bot else None
    return (*agent, reason, *etl_classify.classify_source(page_url, referrer))


def _changes(old: Sequence, new: Sequence) -> list[str]:
    """The class changes of a row worth reporting: device, bot and channel."""
    found = []
    for name in ("device_type", "is_bot", "traffic_channel"):
        slot = CLASS_COLUMNS.index(name)
        if old[slot] != new[slot]:
            found.append(f"{name}: {old[slot]} -> {new[slot]}")
    return found


def reclassify_hour(
    conn: Connection,
    target: sql.Identifier,
    hour: datetime,
    result: Reclassified,
    *,
    dry_run: bool = False,
    backlog: bool = False,
) -> None:
    """Classify one hour's rows again; update the changed ones and queue the hour's
    rollups, in one transaction (nothing when ``dry_run``).  ``backlog``: the hour also
    leaves ``etl_unclassified_hours`` in that transaction."""
    params = {"hour": hour, "next_hour": hour + timedelta(hours=1)}
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in CLASS_COLUMNS)
    changed = []
    with conn, conn.cursor() as cur:
        if backlog:
            cur.execute("DELETE FROM public.etl_unclassified_hours WHERE event_hour = %s", (hour,))
        cur.execute(sql.SQL(READ_SQL).format(columns=columns, target=target), params)
        for event_id, user_agent, page_url, referrer, *stored in cur:
            result.rows_read += 1
            new = classify(user_agent, page_url, referrer)
            if tuple(stored) != new:
                changed.append((event_id, *new))
                result.changes.update(_changes(stored, new))
        result.hours += 1
        if not changed:
            return
        result.rows_reclassified += len(changed)
        result.hours_changed.append(hour)
        if dry_run:
            return
        cur.execute(
            sql.SQL(
                "CREATE TEMPORARY TABLE etl_reclassified ON COMMIT DROP AS"
                " SELECT event_id, {columns} FROM {target} WITH NO DATA"
            ).format(columns=columns, target=target)
        )
        execute_values(cur, "INSERT INTO etl_reclassified VALUES %s", changed, page_size=1000)
        values = sql.SQL(", ").join(
            sql.SQL("r.{}").format(sql.Identifier(c)) for c in CLASS_COLUMNS
        )
        cur.execute(
            sql.SQL(UPDATE_SQL).format(target=target, columns=columns, values=values), params
        )
        cur.execute(
            "INSERT INTO public.etl_pending_rollups (event_hour) VALUES (%s)"
            " ON CONFLICT (event_hour) DO NOTHING",
            (hour,),
        )


def reclassify(
    conn: Connection, target: sql.Identifier, hours: Sequence[datetime], *, dry_run: bool = False
) -> Reclassified:
    """Classify the rows of ``hours`` again, an hour per transaction."""
    result = Reclassified()
    for hour in hours:
        reclassify_hour(conn, target, hour, result, dry_run=dry_run)
    return result


def backfill(
    conn: Connection, target: sql.Identifier, max_hours: int = BACKFILL_HOURS_PER_RUN
) -> Reclassified:
    """Classify up to ``max_hours`` hours of rows loaded before migration 0008, oldest
    first; each hour leaves ``etl_unclassified_hours`` with its update."""
    with conn, conn.cursor() as cur:
        cur.execute(
            "SELECT event_hour FROM public.etl_unclassified_hours ORDER BY event_hour LIMIT %s",
            (max_hours,),
        )
        hours = [row[0] for row in cur.fetchall()]
    result = Reclassified()
    for hour in hours:
        reclassify_hour(conn, target, hour, result, backlog=True)
    return result
