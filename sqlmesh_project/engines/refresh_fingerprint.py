"""Skipping a FULL refresh whose query and input tables are unchanged since the table was written.

SQLMesh refreshes a FULL model on every run of its cron, whatever changed: the
oss-directory models recompute every day although oss-directory is reloaded far more
rarely, and ``marts.metrics_v0`` reads no table at all. On Iceberg every refresh is a
query, a commit and a new snapshot (which also makes the published mart change).

A refresh written through PyIceberg records a fingerprint in its snapshot's summary: a
hash of the query as it runs (fully qualified, with the interval's dates rendered in) and
of the UUID and current snapshot id of every table it reads. When the next refresh of the
same table has the same fingerprint, it would write the same rows: it is skipped (no
query, no commit). A query that reads anything but Iceberg tables of an attached catalog,
or calls a function whose value changes between runs (the current time, random numbers,
sequences), gets no fingerprint and always runs. Anything that writes the table otherwise
(a DuckDB insert, maintenance's compaction) leaves no fingerprint on its snapshot, so the
next refresh runs; a skip needs the fingerprint on the table's *current* snapshot.
The inputs' versions are read before the query runs: an input that changes meanwhile
makes the next refresh run again; a change is never skipped.

SQLMesh has no notion of input versions (its intervals are time, not data), hence this
module; the fingerprint lives in the Iceberg snapshot it describes, so it cannot go stale
apart from the table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from pyiceberg.table import Table
from sqlglot import exp

REFRESH_FINGERPRINT = "commonlake.refresh-fingerprint"  # snapshot summary property

# Functions whose result differs between two runs of the same query over the same data.
VOLATILE_EXPRESSIONS: tuple[type[exp.Expression], ...] = (
    exp.CurrentDate,
    exp.CurrentDatetime,
    exp.CurrentTime,
    exp.CurrentTimestamp,
    exp.CurrentTimestampLTZ,
    exp.Rand,
    exp.Randn,
    exp.Uuid,
)
# The same, where sqlglot parses them as functions it does not know (DuckDB spellings).
VOLATILE_FUNCTIONS = frozenset(
    {
        "now",
        "get_current_timestamp",
        "get_current_time",
        "transaction_timestamp",
        "random",
        "uuid",
        "nextval",
        "currval",
        "setseed",
    }
)


def query_inputs(query: exp.Expression) -> list[exp.Table] | None:
    """The tables ``query`` reads (CTE names excluded); None if it is volatile or reads a table it cannot name."""
    for node in query.walk():
        if isinstance(node, VOLATILE_EXPRESSIONS):
            return None
        if isinstance(node, exp.Anonymous) and node.name.lower() in VOLATILE_FUNCTIONS:
            return None
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    tables = []
    for table in query.find_all(exp.Table):
        if not table.name or isinstance(table.this, exp.Func):  # a table function: read_parquet(…), range(…)
            return None
        if not table.db and table.name in ctes:
            continue
        if not table.db:
            return None
        tables.append(table)
    return tables


def refresh_fingerprint(
    query: exp.Expression, resolve: Callable[[exp.Table], Table | None], dialect: str
) -> str | None:
    """The fingerprint of running ``query`` now, or None when it cannot have one (see the module's docstring).

    ``resolve`` gives the Iceberg table a query's table reference names, or None when it is
    not one.
    """
    tables = query_inputs(query)
    if tables is None:
        return None
    digest = hashlib.sha256(query.sql(dialect=dialect, comments=False).encode())
    versions = set()
    for reference in tables:
        table = resolve(reference)
        if table is None:
            return None
        snapshot = table.current_snapshot()
        versions.add(f"{table.metadata.table_uuid}:{snapshot.snapshot_id if snapshot else 'empty'}")
    for version in sorted(versions):
        digest.update(b"\0" + version.encode())
    return digest.hexdigest()


def last_fingerprint(table: Table) -> str | None:
    """The fingerprint recorded on the table's current snapshot, if its last write recorded one."""
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return None
    return snapshot.summary.additional_properties.get(REFRESH_FINGERPRINT)
