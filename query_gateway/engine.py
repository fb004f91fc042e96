"""The query engine: one read-only statement over given table versions, in DataFusion.

Each query gets a fresh DataFusion session holding just the tables it names, each
registered as the pruned data files of the exact table version (metadata file) the
caller resolved, so the answer belongs to those snapshots and can be cached under them.
Read-only is enforced twice: ``statements.parse_statement`` (sqlglot) and DataFusion's
``SQLOptions`` with DDL, DML and statements disallowed.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import pyarrow as pa
from datafusion import RuntimeEnvBuilder, SessionConfig, SessionContext, SQLOptions
from datafusion.catalog import Catalog, Schema
from pyiceberg.table import StaticTable, Table

from commonlake.settings import Settings
from query_gateway.decoded_files import DecodedFiles
from query_gateway.errors import QueryError
from query_gateway.file_scan import ScanPlanner, register_object_stores, register_scan, without_view_types
from query_gateway.pruning import row_filters
from query_gateway.statements import Statement, parse_statement

READ_ONLY = SQLOptions().with_allow_ddl(False).with_allow_dml(False).with_allow_statements(False)
# Below DataFusion's own threshold for splitting a file scan (repartition_file_min_size), one partition reads it.
SMALL_SCAN_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class QueryTask:
    """What a worker needs to answer a query: the SQL and the metadata file of every table it reads."""

    sql: str
    dialect: str
    metadata_locations: dict[str, str]  # namespace.table → metadata file
    row_limit: int


@dataclass
class TableScan:
    """How one table was read: the snapshot and how many data files pruning left."""

    snapshot_id: int | None
    files_total: int
    files_scanned: int
    row_filter: str
    files_in_memory: int = 0  # of the files scanned, those read from memory (kept decoded), not Parquet


@dataclass
class QueryResult:
    """An Arrow result, whether it was cut at the row limit, and what was read."""

    table: pa.Table
    truncated: bool
    scans: dict[str, TableScan] = field(default_factory=dict)
    seconds: float = 0.0


class QueryEngine:
    """Runs checked statements over table versions given by metadata file."""

    def __init__(self, settings: Settings, max_tables: int = 256) -> None:
        self.settings = settings
        self.gateway = settings.gateway
        self.planner = ScanPlanner()
        self.decoded = DecodedFiles(self.gateway.memory_limit_bytes // 8)
        # One session for every query of this engine (queries run one at a time): DataFusion's
        # caches of Parquet footers and statistics then outlive a query. Data files are immutable.
        self._partitions = 1
        config = (
            SessionConfig()
            .with_information_schema(False)
            .with_target_partitions(self._partitions)
            .set("datafusion.execution.parquet.pushdown_filters", "true")
            .set("datafusion.execution.parquet.reorder_filters", "true")
            # Every query registers fresh file listings, so DataFusion would read every file's statistics again
            # each time; pruning already used Iceberg's, and measured queries ran 20-30% faster without.
            .set("datafusion.execution.collect_statistics", "false")
        )
        runtime = RuntimeEnvBuilder().with_greedy_memory_pool(self.gateway.memory_limit_bytes)
        self._ctx = SessionContext(config, runtime)
        self._namespaces: set[str] = set()
        self._tables: OrderedDict[str, Table] = OrderedDict()
        self._row_filters: OrderedDict[tuple, dict] = OrderedDict()
        self._max_tables = max_tables
        self._lock = threading.Lock()
        self._query_lock = threading.Lock()

    def statement(self, sql: str, dialect: str = "postgres") -> Statement:
        """Parse and check ``sql`` with this gateway's namespace rules."""
        return parse_statement(sql, dialect, self.gateway.default_namespace, self.gateway.namespace_aliases)

    def table_at(self, metadata_location: str) -> Table:
        """The table as of one metadata file (read once, then remembered)."""
        with self._lock:
            table = self._tables.get(metadata_location)
            if table is not None:
                self._tables.move_to_end(metadata_location)
                return table
        table = StaticTable.from_metadata(metadata_location, properties=self.settings.storage.fileio_properties())
        with self._lock:
            self._tables[metadata_location] = table
            while len(self._tables) > self._max_tables:
                self._tables.popitem(last=False)
        return table

    def _filters(self, statement: Statement, tables: dict) -> dict:
        """Each table's row filter, remembered per statement and table versions (a repeat skips sqlglot)."""
        key = (statement.normalized, tuple(table.metadata_location for table in tables.values()))
        with self._lock:
            found = self._row_filters.get(key)
        if found is None:
            found = row_filters(statement, lambda ref: set(tables[ref].schema().column_names))
            with self._lock:
                self._row_filters[key] = found
                while len(self._row_filters) > 4096:
                    self._row_filters.popitem(last=False)
        return found

    def run(self, task: QueryTask) -> QueryResult:
        """Answer one query; rows beyond the row limit are cut and flagged."""
        began = time.perf_counter()
        statement = self.statement(task.sql, task.dialect)
        tables = {ref: self.table_at(task.metadata_locations[ref.qualified]) for ref in statement.tables}
        filters = self._filters(statement, tables)
        with self._query_lock:
            ctx = self._ctx
            scans: dict[str, TableScan] = {}
            registered: list[str] = []
            try:
                plans = {ref: self.planner.plan(table, filters[ref]) for ref, table in tables.items()}
                self._use_partitions(
                    target_partitions(sum(p.bytes_scanned for p in plans.values()), self.gateway.query_workers)
                )
                for ref, table in tables.items():
                    if ref.namespace and ref.namespace not in self._namespaces:
                        _register_namespace(ctx, ref.namespace)
                        self._namespaces.add(ref.namespace)
                    plan = plans[ref]
                    register_object_stores(ctx, self.settings.storage, plan.paths)
                    in_memory = register_scan(ctx, ref.registered_name, table, plan, self.decoded)
                    registered.append(ref.registered_name)
                    snapshot = table.current_snapshot()
                    scans[ref.qualified] = TableScan(
                        snapshot.snapshot_id if snapshot else None,
                        plan.files_total,
                        plan.files_scanned,
                        plan.row_filter,
                        in_memory,
                    )
                table, truncated = _collect(ctx, statement, task.row_limit)
            finally:
                for name in registered:
                    ctx.deregister_table(name)
        return QueryResult(without_view_types(table), truncated, scans, time.perf_counter() - began)

    def _use_partitions(self, partitions: int) -> None:
        if partitions != self._partitions:
            self._ctx.sql(f"SET datafusion.execution.target_partitions = {partitions}")
            self._partitions = partitions


def target_partitions(scan_bytes: int, workers: int) -> int:
    """How many partitions a query runs in: one for a small scan, otherwise this worker's share of the cores.

    Below DataFusion's own file-splitting threshold the hash repartitioning of joins and
    aggregates costs more than it saves (a top-20 join over two small marts ran 20% faster
    in one partition), and the workers share the machine's cores.
    """
    if scan_bytes < SMALL_SCAN_BYTES:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cores // workers)


def _register_namespace(ctx: SessionContext, namespace: str) -> None:
    """Make ``namespace`` resolvable: a schema, or for ``a.b`` (a mirror's tables) schema ``b`` of catalog ``a``."""
    catalog_name, dot, schema = namespace.rpartition(".")
    if not dot:
        ctx.catalog().register_schema(namespace, Schema.memory_schema())
        return
    if catalog_name not in ctx.catalog_names():
        ctx.register_catalog_provider(catalog_name, Catalog.memory_catalog())
    catalog = ctx.catalog(catalog_name)
    if schema not in catalog.schema_names():
        catalog.register_schema(schema, Schema.memory_schema())


def _collect(ctx: SessionContext, statement: Statement, limit: int) -> tuple[pa.Table, bool]:
    """The first ``limit`` rows of the result, and whether there were more."""
    try:
        frame = ctx.sql_with_options(statement.text, READ_ONLY)
        # One more row than allowed tells whether the result was cut; DataFusion stops there. EXPLAIN
        # must stay the root of its plan. One collect() is one wait on DataFusion's threads (a stream
        # waits once per batch, and each wait is a thread hand-off that costs most on a busy machine).
        batches = (frame if statement.explain else frame.limit(limit + 1)).collect()
        table = pa.Table.from_batches(batches, schema=batches[0].schema if batches else frame.schema())
    except Exception as exc:  # DataFusion raises plain exceptions for planning and execution errors
        raise QueryError(describe_engine_error(str(exc))) from exc
    return (table.slice(0, limit), True) if table.num_rows > limit else (table, False)


def describe_engine_error(message: str) -> str:
    """DataFusion's error as one readable line."""
    text = message.strip()
    if "Resources exhausted" in text:
        return "Query needs more memory than the engine's limit: " + text.splitlines()[0][:300]
    for prefix in ("DataFusion error: ", "Execution error: "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.splitlines()[0][:500] if text else "Query failed"
