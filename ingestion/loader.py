"""Loading units of source data into Iceberg tables exactly once.

A *unit* is what a source delivers atomically: one GH Archive hour file, one version of
the oss-directory, one cursor window of a BigQuery table. Every row carries the unit that
wrote it (``_source_unit``) and every commit records its units in the snapshot summary
(``commonlake.units``). A unit is loaded by one Iceberg transaction: (delete the rows of
that unit,) append the new rows, commit. So re-loading replaces instead of duplicating,
and a crash mid-unit leaves the table exactly as it was before the unit: the data files
written before the crash are never referenced (orphan-file removal deletes them).

Rows arrive as a stream of Arrow record batches and are written to Parquet whenever the
buffer reaches ``flush_bytes``, so memory stays bounded however large a unit is.
"""

from __future__ import annotations

import itertools
import json
import uuid
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError, TableAlreadyExistsError
from pyiceberg.expressions import AlwaysTrue, BooleanExpression, In
from pyiceberg.io import FileIO
from pyiceberg.manifest import DataFile
from pyiceberg.partitioning import PartitionFieldValue, PartitionKey
from pyiceberg.table import Table, Transaction
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.transforms import DayTransform, Transform

from ingestion.rejects import Reject
from ingestion.schemas import RAW_NAMESPACE, REJECTS, UNIT_COLUMN

UNITS_PROPERTY = "commonlake.units"
SOURCE_PROPERTY = "commonlake.source"
DEFAULT_FLUSH_BYTES = 64 * 1024 * 1024

# Called after a commit's data files are written and before the commit, with the table
# name and the units: tests use it to crash a load at the worst moment.
BeforeCommitHook = Callable[[str, Sequence[str]], None]


@dataclass(frozen=True)
class RawTableSpec:
    """A raw table: its name, Arrow schema and partitioning."""

    name: str
    schema: pa.Schema
    partition_by: Sequence[tuple[str, Transform, str]] = ()  # (source column, transform, partition field name)
    properties: dict[str, str] = field(default_factory=dict)


def day_partitioned(column: str) -> tuple[tuple[str, Transform, str], ...]:
    """Partition by the day of a timestamp column."""
    return ((column, DayTransform(), f"{column}_day"),)


@dataclass
class LoadSummary:
    """What one run loaded, for the CLI's summary and for Dagster metadata."""

    source: str
    units_loaded: int = 0
    units_skipped: int = 0
    rows: int = 0
    rejects: int = 0
    duplicates: int = 0
    filtered: int = 0
    seconds: float = 0.0
    tables: dict[str, int] = field(default_factory=dict)
    missing_units: list[str] = field(default_factory=list)
    failed_units: dict[str, str] = field(default_factory=dict)
    new_columns: list[str] = field(default_factory=list)

    def add_rows(self, table: str, rows: int) -> None:
        """Count rows written to a table."""
        self.rows += rows
        self.tables[table] = self.tables.get(table, 0) + rows

    @property
    def ok(self) -> bool:
        """True when every unit asked for was loaded or already there."""
        return not self.missing_units and not self.failed_units


class UnitLoad:
    """One atomic commit in progress: rows of some units streamed into new data files.

    Use :meth:`IcebergLoader.begin`, then :meth:`write` batches, then :meth:`commit` (or
    :meth:`abort`). Nothing is visible in the table before :meth:`commit` returns.
    """

    def __init__(
        self,
        loader: IcebergLoader,
        spec: RawTableSpec,
        table: Table,
        source: str,
        replace: BooleanExpression | None,
        flush_bytes: int,
    ) -> None:
        self.loader = loader
        self.spec = spec
        self.table = table
        self.source = source
        self.replace = replace
        self.flush_bytes = flush_bytes
        self.units: list[str] = []
        self.rows = 0
        self.new_columns: list[str] = []
        self._tx: Transaction = table.transaction()
        self._buffer: list[pa.RecordBatch] = []
        self._buffered_bytes = 0
        self._write_uuid = uuid.uuid4()
        self._counter = itertools.count(0)
        # One background writer: Parquet encoding releases the GIL, so parsing the next
        # batch overlaps with writing this one. At most one flush waits (memory bound).
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet")
        self._pending: list[Future[list[DataFile]]] = []
        self._files: list[DataFile] = []

    def add_unit(self, unit: str) -> None:
        """Record that this commit (re)loads ``unit``."""
        self.units.append(unit)

    def write(self, data: pa.RecordBatch | pa.Table) -> None:
        """Add rows (which carry the unit column); new columns evolve the table schema."""
        if data.num_rows == 0:
            return
        target = self._tx.table_metadata.schema().as_arrow()
        extra = [name for name in data.schema.names if name not in target.names]
        if extra:
            self._flush()  # files already buffered are written with the schema they fit
            self._wait()
            with self._tx.update_schema() as update:
                update.union_by_name(pa.schema([data.schema.field(name).with_nullable(True) for name in extra]))
            self.new_columns.extend(extra)
            target = self._tx.table_metadata.schema().as_arrow()
        batches = data.to_batches() if isinstance(data, pa.Table) else [data]
        for batch in batches:
            batch = conform(batch, target)
            self._buffer.append(batch)
            self._buffered_bytes += batch.nbytes
            self.rows += batch.num_rows
        if self._buffered_bytes >= self.flush_bytes:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        data = pa.Table.from_batches(self._buffer)
        metadata, io = self._tx.table_metadata, self.table.io
        self._buffer, self._buffered_bytes = [], 0
        self._wait(keep=0)
        self._pending.append(
            self._writer.submit(lambda: data_files(metadata, data, io, self._write_uuid, self._counter))
        )

    def _wait(self, keep: int = 0) -> None:
        while len(self._pending) > keep:
            self._files.extend(self._pending.pop(0).result())

    def commit(self, properties: dict[str, str] | None = None, table_properties: dict[str, str] | None = None) -> int:
        """Write what is buffered and commit everything atomically; returns the rows written.

        Rows matching ``self.replace`` (set it before committing, when it depends on the
        units added) are deleted in the same commit.
        """
        try:
            self._flush()
            self._wait()
            summary = {
                UNITS_PROPERTY: json.dumps(sorted(self.units)),
                SOURCE_PROPERTY: self.source,
                **(properties or {}),
            }
            tx = self._tx
            if table_properties:
                tx.set_properties(table_properties)
            if self.replace is not None:
                with warnings.catch_warnings():
                    # "Delete operation did not match any records": expected for a unit seen only in rejects.
                    warnings.simplefilter("ignore", UserWarning)
                    tx.delete(self.replace, snapshot_properties=summary)
            with tx.update_snapshot(snapshot_properties=summary).fast_append() as append:
                for data_file in self._files:
                    append.append_data_file(data_file)
            if self.loader.before_commit is not None:
                self.loader.before_commit(self.spec.name, list(self.units))
            tx.commit_transaction()
            return self.rows
        finally:
            self._writer.shutdown(wait=True)

    def abort(self) -> None:
        """Drop the load; files already written stay unreferenced (orphans)."""
        self._buffer = []
        self._writer.shutdown(wait=True)


class IcebergLoader:
    """Writes units of Arrow data into the raw tables of any PyIceberg catalog."""

    def __init__(
        self,
        catalog: Catalog,
        namespace: str = RAW_NAMESPACE,
        flush_bytes: int = DEFAULT_FLUSH_BYTES,
        before_commit: BeforeCommitHook | None = None,
    ) -> None:
        self.catalog = catalog
        self.namespace = namespace
        self.flush_bytes = flush_bytes
        self.before_commit = before_commit
        self._tables: dict[str, Table] = {}

    def table(self, spec: RawTableSpec) -> Table:
        """The raw table for a spec, created (with its partitioning) on first use, refreshed."""
        if spec.name in self._tables:
            return self._tables[spec.name].refresh()
        identifier = (self.namespace, spec.name)
        self.catalog.create_namespace_if_not_exists(self.namespace)
        try:
            table = self.catalog.load_table(identifier)
        except NoSuchTableError:
            try:
                with self.catalog.create_table_transaction(
                    identifier, schema=spec.schema, properties=spec.properties
                ) as tx:
                    if spec.partition_by:
                        with tx.update_spec() as update:
                            for column, transform, name in spec.partition_by:
                                update.add_field(column, transform, name)
            except TableAlreadyExistsError:  # created concurrently: use theirs
                pass
            table = self.catalog.load_table(identifier)
        self._tables[spec.name] = table
        return table

    def loaded_units(self, spec: RawTableSpec) -> set[str]:
        """Units recorded in the table's snapshot history."""
        return units_in_history(self.table(spec))

    def begin(self, spec: RawTableSpec, source: str, replace: BooleanExpression | None = None) -> UnitLoad:
        """Start a commit; ``replace`` selects the rows it replaces (None: a plain append)."""
        return UnitLoad(self, spec, self.table(spec), source, replace, self.flush_bytes)

    def replace_units(
        self,
        spec: RawTableSpec,
        units: Sequence[str],
        data: pa.Table,
        source: str,
        replace_all: bool = False,
        new_units: bool = False,
        properties: dict[str, str] | None = None,
    ) -> int:
        """Atomically replace the rows of ``units`` (or of the whole table) with ``data``.

        ``new_units`` says the caller knows (from :meth:`loaded_units`) that none of the
        units was ever committed, so there is nothing to delete and a plain append is
        enough; it avoids scanning the table's manifests for rows to delete.
        Returns the number of rows written. ``data`` must carry the unit column.
        """
        replace: BooleanExpression | None = None
        if replace_all or not new_units:
            replace = AlwaysTrue() if replace_all else In(UNIT_COLUMN, set(units))
        load = self.begin(spec, source, replace)
        for unit in units:
            load.add_unit(unit)
        load.write(data)
        return load.commit(properties)

    def write_rejects(self, source: str, rejects_by_unit: dict[str, list[Reject]]) -> int:
        """Replace the rejects of these (source, unit)s with the given records, in one commit.

        Called *before* the data commit of the same units: if the run dies in between,
        the units are not recorded as loaded, and the next run replaces these rejects.
        """
        spec = RawTableSpec("rejects", REJECTS)
        keys = {unit: f"{source}:{unit}" for unit in rejects_by_unit}
        rejected_before = self.loaded_units(spec) & set(keys.values())
        rows = [reject.row(source, unit, keys[unit]) for unit, rejects in rejects_by_unit.items() for reject in rejects]
        if not rows and not rejected_before:
            return 0  # nothing rejected now or before: no commit needed
        table = pa.Table.from_pylist(rows, schema=REJECTS)
        self.replace_units(spec, sorted(keys.values()), table, source, new_units=not rejected_before)
        return len(rows)


def units_in_history(table: Table) -> set[str]:
    """Units recorded in the summaries of a table's snapshots."""
    units: set[str] = set()
    for snapshot in table.metadata.snapshots:
        summary = snapshot.summary
        if summary is not None and (recorded := summary.additional_properties.get(UNITS_PROPERTY)):
            units.update(json.loads(recorded))
    return units


def current_units(table: Table) -> set[str]:
    """Units recorded by the table's current snapshot."""
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return set()
    recorded = snapshot.summary.additional_properties.get(UNITS_PROPERTY)
    return set(json.loads(recorded)) if recorded else set()


def data_files(
    metadata: TableMetadata, data: pa.Table, io: FileIO, write_uuid: uuid.UUID, counter: itertools.count
) -> list[DataFile]:
    """Write rows as Parquet data files of a table (PyIceberg's writer: field ids, column statistics).

    PyIceberg's public streaming append does not support partitioned tables yet
    (iceberg-python #2152), so rows are handed to its writer a buffer at a time and the
    files committed together. Its partition split groups, filters and copies every buffer,
    which cost more than writing it; a buffer that holds one partition only (an hour of
    events: one day) skips that and is written as one task with its partition key.
    """
    from pyiceberg.io.pyarrow import _dataframe_to_data_files, bin_pack_arrow_table, pyarrow_to_schema, write_file
    from pyiceberg.table import TableProperties, WriteTask
    from pyiceberg.utils.properties import property_as_int

    key = single_partition_key(metadata, data)
    if key is None:
        return list(_dataframe_to_data_files(metadata, data, io, write_uuid, counter))
    data = data.combine_chunks()  # one chunk per column compresses better (as PyIceberg's split leaves it)
    schema = pyarrow_to_schema(
        data.schema, name_mapping=metadata.schema().name_mapping, format_version=metadata.format_version
    )
    target_size = property_as_int(
        metadata.properties,
        TableProperties.WRITE_TARGET_FILE_SIZE_BYTES,
        TableProperties.WRITE_TARGET_FILE_SIZE_BYTES_DEFAULT,
    )
    tasks = (
        WriteTask(write_uuid, next(counter), schema, batches, partition_key=key)
        for batches in bin_pack_arrow_table(data, target_size)
    )
    return list(write_file(io, metadata, tasks))


def single_partition_key(metadata: TableMetadata, data: pa.Table) -> PartitionKey | None:
    """The partition key of rows that all fall in one partition of a partitioned table, else None."""
    spec, schema = metadata.spec(), metadata.schema()
    if spec.is_unpartitioned() or data.num_rows == 0:
        return None
    values = []
    for partition_field in spec.fields:
        source = schema.find_field(partition_field.source_id)
        name = schema.find_column_name(partition_field.source_id)
        if name is None or name not in data.column_names:
            return None
        transformed = partition_field.transform.pyarrow_transform(source.field_type)(data.column(name))
        if transformed.null_count:
            return None
        bounds = pc.min_max(transformed)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        if low != high:
            return None
        values.append(PartitionFieldValue(field=partition_field, value=low))
    return PartitionKey(field_values=values, partition_spec=spec, schema=schema)


def conform(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    """Cast a batch to the table's current schema (table columns it lacks become nulls)."""
    columns = []
    for target_field in target:
        index = batch.schema.get_field_index(target_field.name)
        if index < 0:
            columns.append(pa.nulls(batch.num_rows, type=target_field.type))
            continue
        column = batch.column(index)
        columns.append(column if column.type == target_field.type else column.cast(target_field.type))
    return pa.RecordBatch.from_arrays(columns, schema=target)


def batched(items: Iterable[str], size: int) -> Iterable[list[str]]:
    """Split items into lists of at most ``size``."""
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
