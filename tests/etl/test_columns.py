"""The ETL's columns are the events table's: what the load writes, the migrations define.

etl_db COPYs ``etl_transform.COLUMNS`` (then ``etl_db.RUN_ID_COLUMN``) into the events
table, or into a staging table made ``LIKE`` it, by name; ``map_event`` sets each
value by its column's name (tests/etl/test_transform.py checks it sets them all).
This test fails when the names drift apart from the migrated table's.
"""

from __future__ import annotations

import pytest

from clickstream_etl import etl_db, etl_transform
from clickstream_etl.etl_config import table_name

pytestmark = pytest.mark.integration


def test_the_load_writes_the_columns_of_the_migrated_events_table(dw_readonly) -> None:
    schema, table = table_name(None)  # the ETL's default target
    columns = {
        name: (nullable == "YES", default is not None)
        for name, nullable, default in dw_readonly.query(
            "SELECT column_name, is_nullable, column_default FROM information_schema.columns"
            " WHERE table_schema = %s AND table_name = %s",
            (schema, table),
        )
    }
    assert columns, f"the migrations define no {schema}.{table}"
    written = (*etl_transform.COLUMNS, etl_db.RUN_ID_COLUMN)
    assert len(set(written)) == len(written), f"a column is written twice: {written}"
    assert [name for name in written if name not in columns] == [], (
        f"the load writes columns {schema}.{table} does not have"
    )
    # etl_writer cannot UPDATE events: a column no load writes keeps its default
    # forever; without one it is NULL in every row, or every insert fails (NOT NULL)
    unwritten = [
        f"{name} ({'NULL' if nullable else 'NOT NULL'})"
        for name, (nullable, has_default) in columns.items()
        if name not in written and not has_default
    ]
    assert unwritten == [], f"columns of {schema}.{table} without a default the load does not write"
