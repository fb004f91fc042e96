"""Give DataFusion exactly the data files of a table version that can hold matching rows.

PyIceberg plans the scan (``table.scan(row_filter=…).plan_files()``: manifest, partition
and column-statistics pruning); DataFusion's own Parquet reader then reads the surviving
files, with row-group pruning and projection, under the table's current Arrow schema
(columns added later read as NULL, widened types cast). That is only correct when files
can be read by column name, so a table whose history renamed a column, or whose plan
carries delete files, is read through PyIceberg instead (it applies field ids and
deletes), still restricted to the planned files.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pyarrow as pa
from datafusion import SessionContext
from datafusion.object_store import AmazonS3
from pyiceberg.expressions import AlwaysTrue, BooleanExpression
from pyiceberg.io.pyarrow import ArrowScan, schema_to_pyarrow
from pyiceberg.schema import index_name_by_id
from pyiceberg.table import FileScanTask, Table

from commonlake.settings import StorageSettings
from query_gateway.decoded_files import DecodedFiles


@dataclass
class ScanPlan:
    """The files of one table version a query must read."""

    tasks: list[FileScanTask]
    files_total: int
    row_filter: str
    expression: BooleanExpression  # the filter the plan used (AlwaysTrue when the query's did not bind)
    by_name: bool  # whether DataFusion may read the files by column name
    schema: pa.Schema  # the table's Arrow schema as DataFusion reads it
    seconds: float = 0.0
    paths: list[str] = field(default_factory=list)

    @property
    def files_scanned(self) -> int:
        """How many data files the query reads."""
        return len(self.tasks)

    @property
    def bytes_scanned(self) -> int:
        """The size of the data files the query reads, from the manifests."""
        return sum(task.file.file_size_in_bytes for task in self.tasks)


class ScanPlanner:
    """Plans pruned scans, remembering the plan of each (metadata file, filter)."""

    def __init__(self, max_plans: int = 1024) -> None:
        self._plans: OrderedDict[tuple[str, str], ScanPlan] = OrderedDict()
        self._max_plans = max_plans
        self._lock = threading.Lock()

    def plan(self, table: Table, row_filter: BooleanExpression) -> ScanPlan:
        """The files of ``table``'s current snapshot that may hold rows matching ``row_filter``."""
        key = (table.metadata_location, repr(row_filter))
        with self._lock:
            cached = self._plans.get(key)
            if cached is not None:
                self._plans.move_to_end(key)
                return cached
        began = time.perf_counter()
        used: BooleanExpression = row_filter
        try:
            tasks = list(table.scan(row_filter=row_filter).plan_files())
        except Exception:  # a literal that does not bind to the column's type: plan without pruning
            used = AlwaysTrue()
            tasks = list(table.scan().plan_files())
        snapshot = table.current_snapshot()
        total = len(tasks)
        if snapshot is not None and snapshot.summary is not None:
            total = int(snapshot.summary.additional_properties.get("total-data-files", total))
        by_name = _readable_by_name(table) and not any(task.delete_files for task in tasks)
        plan = ScanPlan(
            tasks=tasks,
            files_total=total,
            row_filter=repr(used),
            expression=used,
            by_name=by_name,
            schema=arrow_schema(table),
            seconds=time.perf_counter() - began,
            paths=[task.file.file_path for task in tasks],
        )
        with self._lock:
            self._plans[key] = plan
            while len(self._plans) > self._max_plans:
                self._plans.popitem(last=False)
        return plan


def _readable_by_name(table: Table) -> bool:
    """True when no schema in the table's history used another name for a current column."""
    current = index_name_by_id(table.schema())
    for schema in table.metadata.schemas:
        for field_id, older in index_name_by_id(schema).items():
            if field_id in current and current[field_id] != older:
                return False
    return True


def arrow_schema(table: Table) -> pa.Schema:
    """The table's current schema as DataFusion reads it best: no field-id metadata, view types.

    DataFusion's Parquet reader decodes strings and binaries as Utf8View/BinaryView;
    declaring the table with those types avoids a copy into (Large)Utf8 per row, which
    made filters on string ids several times slower.
    """
    schema = schema_to_pyarrow(table.schema(), include_field_ids=False)
    return pa.schema([column.with_type(_view_type(column.type)) for column in schema])


def _view_type(data_type: pa.DataType) -> pa.DataType:
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return pa.string_view()
    if pa.types.is_binary(data_type) or pa.types.is_large_binary(data_type):
        return pa.binary_view()
    return data_type


def without_view_types(table: pa.Table) -> pa.Table:
    """The result with view types as plain Utf8/Binary, which every Arrow, CSV and Parquet reader takes."""
    fields = []
    for column in table.schema:
        if pa.types.is_string_view(column.type):
            column = column.with_type(pa.string())
        elif pa.types.is_binary_view(column.type):
            column = column.with_type(pa.binary())
        fields.append(column)
    schema = pa.schema(fields, metadata=table.schema.metadata)
    return table if schema.equals(table.schema) else table.cast(schema)


def register_scan(
    ctx: SessionContext, name: str, table: Table, plan: ScanPlan, decoded: DecodedFiles | None = None
) -> int:
    """Register ``name`` in ``ctx`` as the planned files of ``table``; how many were already decoded in memory.

    Small files come from ``decoded`` (read and kept there the first time).
    """
    schema = plan.schema
    if not plan.tasks:
        ctx.register_view(name, ctx.from_arrow(schema.empty_table()))
        return 0
    if not plan.by_name:
        scan = ArrowScan(table.metadata, table.io, table.schema(), plan.expression)
        ctx.register_view(name, ctx.from_arrow(scan.to_table(plan.tasks).cast(schema)))
        return 0
    small = {task.file.file_path for task in plan.tasks if decoded is not None and decoded.admits(task)}
    frames = [ctx.read_parquet(path, schema=schema) for path in plan.paths if path not in small]
    in_memory = 0
    if decoded is not None and small:
        parts = []
        for path in sorted(small):
            part, hit = decoded.read(ctx, path, schema)
            parts.append(part)
            in_memory += hit
        frames.append(ctx.from_arrow(pa.concat_tables(parts)))
    frame = frames[0]
    for part in frames[1:]:
        frame = frame.union(part)
    ctx.register_view(name, frame)
    return in_memory


def register_object_stores(ctx: SessionContext, storage: StorageSettings, paths: list[str]) -> None:
    """Let DataFusion read ``s3://`` data files with the configured object store credentials."""
    buckets = {urlparse(p).netloc for p in paths if p.startswith("s3://")}
    for bucket in buckets:
        store = AmazonS3(
            bucket_name=bucket,
            region=storage.s3_region,
            access_key_id=storage.s3_access_key_id,
            secret_access_key=storage.s3_secret_access_key.get_secret_value() if storage.s3_secret_access_key else None,
            endpoint=storage.s3_endpoint,
            allow_http=bool(storage.s3_endpoint and storage.s3_endpoint.startswith("http://")),
        )
        ctx.register_object_store("s3://", store, bucket)
