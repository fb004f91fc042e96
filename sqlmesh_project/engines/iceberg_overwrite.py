"""Replacing rows of an Iceberg table by dropping whole data files, without delete files.

DuckDB-Iceberg implements every ``DELETE`` (``WHERE TRUE`` and ``TRUNCATE`` included) by
writing positional delete files that list each deleted row. SQLMesh replaces a FULL
model's rows, and an incremental model's interval, with ``DELETE`` + ``INSERT``; on DuckDB
every refresh of a FULL model left the previous data file behind plus a delete file
covering all of it, so its table grew by two files a day and every read and every later
``DELETE`` paid for the dead rows (measured on the 10-million-event bench: after one
day's run every FULL model's table held 2 data files and 1 delete file, the unified
events 67 data files and 62 delete files).

When every data file the replaced range touches lies wholly inside it (always so for a
FULL refresh), the same replacement is a metadata operation: PyIceberg's ``overwrite``
drops those files and appends the new rows in one atomic commit. When the range touches
no file (an incremental backfill into an empty table) the ``DELETE`` is skipped. Ranges
that cut through a file keep DuckDB's positional deletes; table maintenance compacts
them away. SQLMesh has no hook for this, and PyIceberg decides "wholly inside" with its
own strict metrics evaluator, so this module only chooses between the three.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime

import pyarrow as pa
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, GreaterThanOrEqual, LessThanOrEqual
from pyiceberg.expressions.visitors import _StrictMetricsEvaluator
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.types import DateType, TimestampType, TimestamptzType
from sqlglot import exp

from sqlmesh_project.engines.refresh_fingerprint import REFRESH_FINGERPRINT


class Replacement(enum.Enum):
    """How to replace the rows a condition selects."""

    APPEND = "append"  # no data file holds such rows: insert only
    DROP_FILES = "drop-files"  # every matching data file lies wholly inside: drop them, append the new rows
    ROW_DELETES = "row-deletes"  # some file straddles the condition: delete rows (positional delete files)


def _time_bound(node: exp.Expression) -> datetime | None:
    """The value of a time bound SQLMesh renders: a string, optionally cast to a date/time type."""
    while isinstance(node, exp.Cast):
        node = node.this
    if not isinstance(node, exp.Literal) or not node.is_string:
        return None
    try:
        return datetime.fromisoformat(node.this)
    except ValueError:
        return None


def iceberg_filter(where: exp.Expression | None, schema: Schema) -> BooleanExpression | None:
    """The PyIceberg filter of a replace condition, or None when it is not one we can translate.

    SQLMesh replaces either everything (no condition: FULL models) or a time range
    (``time_column BETWEEN low AND high``, inclusive: incremental models).
    """
    if where is None or (isinstance(where, exp.Boolean) and where.this is True):
        return AlwaysTrue()
    if not isinstance(where, exp.Between) or not isinstance(where.this, exp.Column):
        return None
    low, high = _time_bound(where.args["low"]), _time_bound(where.args["high"])
    field = next((f for f in schema.fields if f.name.lower() == where.this.name.lower()), None)
    if low is None or high is None or field is None:
        return None
    if isinstance(field.field_type, DateType):
        bounds = (low.date().isoformat(), high.date().isoformat())
    elif isinstance(field.field_type, TimestampType):
        bounds = (low.isoformat(), high.isoformat())
    elif isinstance(field.field_type, TimestamptzType):  # SQLMesh's bounds are UTC
        bounds = tuple((b if b.tzinfo else b.replace(tzinfo=UTC)).isoformat() for b in (low, high))
    else:
        return None
    return And(GreaterThanOrEqual(field.name, bounds[0]), LessThanOrEqual(field.name, bounds[1]))


def choose_replacement(table: Table, condition: BooleanExpression) -> Replacement:
    """Whether replacing ``condition``'s rows can skip the delete, drop whole files, or must delete rows."""
    if table.current_snapshot() is None:
        return Replacement.APPEND
    tasks = list(table.scan(row_filter=condition).plan_files())
    if not tasks:
        return Replacement.APPEND
    if isinstance(condition, AlwaysTrue):
        return Replacement.DROP_FILES
    # The evaluator PyIceberg's own overwrite decides with; it has no public name (pinned 0.12).
    strict = _StrictMetricsEvaluator(table.schema(), condition, case_sensitive=False)
    return Replacement.DROP_FILES if all(strict.eval(task.file) for task in tasks) else Replacement.ROW_DELETES


def conform(rows: pa.Table, table: Table) -> pa.Table:
    """``rows`` with the table's column names, order and Arrow types (DuckDB's result types may differ)."""
    target = schema_to_pyarrow(table.schema(), include_field_ids=False)
    by_name = {name.lower(): i for i, name in enumerate(rows.column_names)}
    missing = [field.name for field in target if field.name.lower() not in by_name]
    if missing:
        raise ValueError(f"query result lacks columns {missing} of {'.'.join(table.name())}")
    columns = [rows.column(by_name[field.name.lower()]).cast(field.type) for field in target]
    return pa.Table.from_arrays(columns, schema=target)


def overwrite_files(table: Table, rows: pa.Table, condition: BooleanExpression, fingerprint: str | None = None) -> None:
    """Atomically drop the data files inside ``condition`` and append ``rows`` (one commit).

    ``fingerprint``: recorded on the new snapshot (see refresh_fingerprint.py).
    """
    properties = {REFRESH_FINGERPRINT: fingerprint} if fingerprint else {}
    if table.current_snapshot() is None:  # nothing to drop (PyIceberg's overwrite would warn so)
        table.append(conform(rows, table), snapshot_properties=properties)
    else:
        table.overwrite(conform(rows, table), overwrite_filter=condition, snapshot_properties=properties)
