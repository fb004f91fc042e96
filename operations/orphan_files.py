"""Removing files of an Iceberg table that no snapshot and no metadata file references.

Such files come from failed or abandoned writes, from expired snapshots, from metadata
files that fell out of the metadata log, and from engines that never delete (DuckDB
drops without purging). PyIceberg 0.12 has no orphan-file action, so it is written here.

A file is deleted only when (1) it lies under the table's location, (2) it is not
reachable from the table's current metadata: the current and logged metadata files,
every retained snapshot's manifest list, its manifests and their live data and delete
files, statistics files; and (3) it is older than a grace period, so the files of a
write that has not committed yet are never taken for orphans.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyarrow import fs as pafs
from pyiceberg.io.pyarrow import PyArrowFileIO
from pyiceberg.table import Table


class OrphanFilesError(RuntimeError):
    """The table's files cannot be listed (no PyArrow file system for its location)."""


@dataclass
class OrphanResult:
    """What one orphan-file pass found and deleted in one table."""

    table: str
    referenced: int = 0
    listed: int = 0
    deleted: list[str] = field(default_factory=list)
    deleted_bytes: int = 0
    too_young: int = 0


def _path(location: str) -> str:
    """A location as the PyArrow file system sees it (``/abs/path`` or ``bucket/key``)."""
    return PyArrowFileIO.parse_location(location)[2]


def referenced_files(table: Table) -> set[str]:
    """Every file the table's current metadata reaches, as file-system paths."""
    io = table.io
    metadata = table.metadata
    referenced = {_path(table.metadata_location)}
    referenced.update(_path(entry.metadata_file) for entry in metadata.metadata_log)
    referenced.update(_path(stats.statistics_path) for stats in metadata.statistics)
    referenced.update(_path(stats.statistics_path) for stats in metadata.partition_statistics)
    seen_manifests: set[str] = set()
    for snapshot in metadata.snapshots:
        referenced.add(_path(snapshot.manifest_list))
        for manifest in snapshot.manifests(io):
            if manifest.manifest_path in seen_manifests:
                continue
            seen_manifests.add(manifest.manifest_path)
            referenced.add(_path(manifest.manifest_path))
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                referenced.add(_path(entry.data_file.file_path))
    return referenced


def _file_system(table: Table) -> tuple[pafs.FileSystem, str]:
    io = table.io
    if not isinstance(io, PyArrowFileIO):
        raise OrphanFilesError(f"Listing files needs PyArrowFileIO, the table uses {type(io).__name__}")
    scheme, netloc, path = PyArrowFileIO.parse_location(table.location())
    return io.fs_by_scheme(scheme, netloc), path.rstrip("/")


def remove_orphan_files(table: Table, older_than: datetime, dry_run: bool = False) -> OrphanResult:
    """Delete the table's unreferenced files last modified before ``older_than``."""
    table.refresh()
    result = OrphanResult(".".join(table.name()[-2:]))
    referenced = referenced_files(table)
    result.referenced = len(referenced)
    filesystem, root = _file_system(table)
    selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
    cutoff = older_than if older_than.tzinfo else older_than.replace(tzinfo=UTC)
    for info in filesystem.get_file_info(selector):
        if info.type != pafs.FileType.File:
            continue
        result.listed += 1
        if info.path in referenced:
            continue
        modified = info.mtime
        if modified is not None and modified.replace(tzinfo=modified.tzinfo or UTC) >= cutoff:
            result.too_young += 1
            continue
        if not dry_run:
            filesystem.delete_file(info.path)
        result.deleted.append(info.path)
        result.deleted_bytes += info.size or 0
    return result
