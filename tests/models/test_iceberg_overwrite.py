"""Choosing how a SQLMesh replace runs on an Iceberg table, against a real catalog server."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pytest
from pyiceberg.expressions import AlwaysTrue
from pyiceberg.schema import Schema
from pyiceberg.types import DateType, LongType, NestedField, TimestampType, TimestamptzType
from sqlglot import exp, parse_one

from sqlmesh_project.engines.iceberg_overwrite import (
    Replacement,
    choose_replacement,
    conform,
    iceberg_filter,
    overwrite_files,
)
from tests.conftest import RunningCatalog

SCHEMA = Schema(
    NestedField(1, "time", TimestampType(), required=False),
    NestedField(2, "day", DateType(), required=False),
    NestedField(3, "at", TimestamptzType(), required=False),
    NestedField(4, "n", LongType(), required=False),
)
DAY = "time BETWEEN CAST('2025-09-02 00:00:00' AS TIMESTAMP) AND CAST('2025-09-02 23:59:59.999999' AS TIMESTAMP)"


def _day_rows(day: int, count: int = 10) -> pa.Table:
    times = [datetime(2025, 9, day, hour) for hour in range(count)]
    return pa.table(
        {
            "time": pa.array(times, pa.timestamp("us")),
            "day": pa.array([t.date() for t in times], pa.date32()),
            "at": pa.array(times, pa.timestamp("us", tz="UTC")),
            "n": pa.array(range(count), pa.int64()),
        }
    )


def test_sqlmesh_conditions_translate_and_others_do_not() -> None:
    assert iceberg_filter(None, SCHEMA) == AlwaysTrue()
    assert iceberg_filter(exp.true(), SCHEMA) == AlwaysTrue()
    ranged = iceberg_filter(parse_one(DAY, read="duckdb"), SCHEMA)
    assert "2025-09-02T00:00:00" in repr(ranged) and "2025-09-02T23:59:59.999999" in repr(ranged)
    dates = iceberg_filter(parse_one("day BETWEEN CAST('2025-09-02' AS DATE) AND '2025-09-03'"), SCHEMA)
    assert "2025-09-03" in repr(dates) and "T" not in repr(dates).split("2025-09-03")[1][:2]
    zoned = iceberg_filter(parse_one("at BETWEEN '2025-09-02 00:00:00' AND '2025-09-02 23:00:00'"), SCHEMA)
    assert "+00:00" in repr(zoned)
    for untranslatable in (
        "n > 1",
        "n BETWEEN 1 AND 2",
        "nope BETWEEN '2025-09-02' AND '2025-09-03'",
        "TRUE AND n = 1",
    ):
        assert iceberg_filter(parse_one(untranslatable), SCHEMA) is None, untranslatable


def test_replacements_drop_whole_files_only_when_the_range_covers_them(running_catalog: RunningCatalog) -> None:
    catalog = running_catalog.catalog
    catalog.create_namespace("s")
    table = catalog.create_table("s.events", SCHEMA)
    day = iceberg_filter(parse_one(DAY, read="duckdb"), SCHEMA)
    assert choose_replacement(table, day) is Replacement.APPEND  # no snapshot yet

    for d in (1, 2):
        table.append(_day_rows(d))  # one file per day
    assert choose_replacement(table, day) is Replacement.DROP_FILES
    assert choose_replacement(table, AlwaysTrue()) is Replacement.DROP_FILES
    later = iceberg_filter(parse_one(DAY.replace("09-02", "09-05")), SCHEMA)
    assert choose_replacement(table, later) is Replacement.APPEND

    table.append(pa.concat_tables([_day_rows(3), _day_rows(4)]))  # one file straddling two days
    straddling = iceberg_filter(parse_one(DAY.replace("09-02", "09-03")), SCHEMA)
    assert choose_replacement(table, straddling) is Replacement.ROW_DELETES

    overwrite_files(table, _day_rows(2, count=3), day)
    table.refresh()
    rows = table.scan().to_arrow()
    assert rows.num_rows == 10 + 3 + 20
    assert sorted(
        t.hour for t, d in zip(rows["time"].to_pylist(), rows["day"].to_pylist(), strict=True) if d.day == 2
    ) == [0, 1, 2]
    tasks = list(table.scan().plan_files())
    assert len(tasks) == 3 and not any(task.delete_files for task in tasks)


def test_a_result_missing_a_column_is_refused_and_changes_nothing(running_catalog: RunningCatalog) -> None:
    catalog = running_catalog.catalog
    catalog.create_namespace("s")
    table = catalog.create_table("s.events", SCHEMA)
    table.append(_day_rows(1))
    with pytest.raises(ValueError, match=r"lacks columns \['n'\]"):
        overwrite_files(table, _day_rows(1).drop_columns(["n"]), AlwaysTrue())
    table.refresh()
    assert table.scan().count() == 10
    # DuckDB's result types (e.g. string views, other timestamp units) are cast to the table's.
    cast = conform(
        _day_rows(1).cast(
            pa.schema(
                [
                    ("time", pa.timestamp("ns")),
                    ("day", pa.date32()),
                    ("at", pa.timestamp("us", tz="UTC")),
                    ("n", pa.int32()),
                ]
            )
        ),
        table,
    )
    assert cast.schema.field("n").type == pa.int64() and cast.schema.field("time").type == pa.timestamp("us")
