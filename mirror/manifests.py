"""Rewriting a remote snapshot's manifests and manifest list so they name local files.

Manifests are Avro files whose entries carry each data file's absolute path, and a
manifest list names each manifest by absolute path: a copied table needs new ones. They
are written with PyIceberg's own writers (``write_manifest``, ``write_manifest_list``) from
the entries PyIceberg reads, so sequence numbers, partition tuples, column statistics and
file metadata are carried over exactly; only paths change. The manifest-list record of
each manifest is the remote's, with the new path and length, after its declared counts
are checked against the entries actually written.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.io import FileIO, OutputFile
from pyiceberg.manifest import (
    DATA_FILE_TYPE,
    DEFAULT_READ_VERSION,
    MANIFEST_LIST_FILE_SCHEMAS,
    DataFileContent,
    ManifestContent,
    ManifestEntry,
    ManifestFile,
    ManifestWriter,
    ManifestWriterV2,
    write_manifest,
    write_manifest_list,
)
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot

from mirror.errors import SourceFileError
from mirror.paths import LocationMapper

_DATA_FILE = {f.name: i for i, f in enumerate(DATA_FILE_TYPE[DEFAULT_READ_VERSION].fields)}
_MANIFEST_FILE = {f.name: i for i, f in enumerate(MANIFEST_LIST_FILE_SCHEMAS[DEFAULT_READ_VERSION].fields)}
# The reserved field id of a position delete file's ``file_path`` column (Iceberg spec).
DELETE_FILE_PATH_ID = 2147483546
DECLARED_COUNTS = (
    "added_files_count",
    "existing_files_count",
    "deleted_files_count",
    "added_rows_count",
    "existing_rows_count",
    "deleted_rows_count",
)


class _DeleteManifestWriterV2(ManifestWriterV2):
    """PyIceberg 0.12 writes only data manifests; a delete manifest differs in its content marker alone."""

    def content(self) -> ManifestContent:
        return ManifestContent.DELETES

    @property
    def _meta(self) -> dict[str, str]:
        return {**super()._meta, "content": "deletes"}


def _writer(
    content: ManifestContent,
    format_version: int,
    spec: PartitionSpec,
    schema: Schema,
    output: OutputFile,
    snapshot_id: int,
    compression: str,
) -> ManifestWriter:
    if content == ManifestContent.DELETES:
        return _DeleteManifestWriterV2(spec, schema, output, snapshot_id, compression)  # type: ignore[arg-type]
    return write_manifest(format_version, spec, schema, output, snapshot_id, compression)  # type: ignore[arg-type]


def relocate(entry: ManifestEntry, path: str, size: int | None = None) -> ManifestEntry:
    """The entry naming its file at ``path`` (and with ``size`` when the file was rewritten)."""
    data_file = entry.data_file
    data_file[_DATA_FILE["file_path"]] = path
    if size is not None:
        data_file[_DATA_FILE["file_size_in_bytes"]] = size
        # Metrics of the rewritten paths column no longer hold; readers then simply don't prune on it.
        for name in ("lower_bounds", "upper_bounds", "column_sizes"):
            values = data_file[_DATA_FILE[name]]
            if values:
                data_file[_DATA_FILE[name]] = {k: v for k, v in values.items() if k != DELETE_FILE_PATH_ID}
    return entry


def schema_for(spec: PartitionSpec, metadata: TableMetadata, snapshot_id: int | None) -> Schema:
    """The schema a manifest was written with: its snapshot's, else the newest one its partition spec binds to."""
    snapshot = metadata.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
    candidates = []
    if snapshot is not None and snapshot.schema_id is not None:
        candidates.append(metadata.schema_by_id(snapshot.schema_id))
    candidates += [metadata.schema(), *reversed(metadata.schemas)]
    for schema in candidates:
        if schema is None:
            continue
        try:
            spec.partition_type(schema)
        except (ValueError, KeyError):
            continue
        return schema
    raise SourceFileError(f"No schema of the remote table binds partition spec {spec.spec_id}")


def rewrite_manifest(
    remote: ManifestFile,
    entries: list[ManifestEntry],
    metadata: TableMetadata,
    output: OutputFile,
    compression: str,
) -> ManifestFile:
    """Write relocated ``entries`` as a new manifest and return the remote's record pointing at it."""
    spec = metadata.specs()[remote.partition_spec_id]
    schema = schema_for(spec, metadata, remote.added_snapshot_id)
    writer = _writer(
        remote.content, metadata.format_version, spec, schema, output, remote.added_snapshot_id or -1, compression
    )
    with writer:
        for entry in entries:
            writer.add_entry(entry)
    written = writer.to_manifest_file()
    for name in DECLARED_COUNTS:
        declared = getattr(remote, name)
        actual = getattr(written, name)
        if declared is not None and declared != actual:
            raise SourceFileError(
                f"Remote manifest {remote.manifest_path} declares {name.replace('_', ' ')} = {declared} "
                f"but its entries hold {actual}"
            )
    return relocated_manifest(remote, written.manifest_path, written.manifest_length)


def relocated_manifest(remote: ManifestFile, path: str, length: int) -> ManifestFile:
    """A copy of a manifest-list record with a new path and length.

    A new record, not ``copy()``: a shallow copy would share the field list with the
    remote's record, which PyIceberg keeps in its process-wide manifest cache.
    """
    local = ManifestFile(*[remote[i] for i in range(len(remote))])
    local[_MANIFEST_FILE["manifest_path"]] = path
    local[_MANIFEST_FILE["manifest_length"]] = length
    return local


def write_snapshot_manifest_list(
    snapshot: Snapshot, manifests: list[ManifestFile], format_version: int, output: OutputFile, compression: str
) -> None:
    """The snapshot's manifest list, naming the local manifests (same snapshot, parent and sequence number)."""
    with write_manifest_list(
        format_version,  # type: ignore[arg-type]
        output,
        snapshot.snapshot_id,
        snapshot.parent_snapshot_id,
        snapshot.sequence_number,
        compression,  # type: ignore[arg-type]
    ) as writer:
        writer.add_manifests(manifests)


def is_position_delete(entry: ManifestEntry) -> bool:
    """True for a position delete file: its rows name data files by path, so it must be rewritten."""
    return entry.data_file.content == DataFileContent.POSITION_DELETES


def rewrite_position_deletes(
    source_io: FileIO, target_io: FileIO, source: str, target: str, record_count: int, mapper: LocationMapper
) -> int:
    """Copy a position delete file with each ``file_path`` mapped to the local data file; returns its size."""
    try:
        with source_io.new_input(source).open(seekable=True) as stream:
            table = pq.read_table(stream)
    except FileNotFoundError as exc:
        raise SourceFileError(f"Remote delete file {source} is missing (its manifest still lists it)") from exc
    except Exception as exc:  # a damaged Parquet file
        raise SourceFileError(f"Remote delete file {source} is not a readable Parquet file: {exc}") from exc
    if table.num_rows != record_count:
        raise SourceFileError(
            f"Remote delete file {source} holds {table.num_rows} rows, its manifest declares {record_count}"
        )
    index = table.schema.get_field_index("file_path")
    if index < 0:
        raise SourceFileError(f"Remote delete file {source} has no file_path column")
    paths = table.column(index)
    distinct = pc.unique(paths)
    mapped = pa.array([mapper.target(p) for p in distinct.to_pylist()], type=paths.type)
    table = table.set_column(index, table.schema.field(index), pc.take(mapped, pc.index_in(paths, distinct)))
    with target_io.new_output(target).create(overwrite=True) as out:
        pq.write_table(table, out)
    return len(target_io.new_input(target))
