"""Copy mode: a remote table's snapshots replicated into the local warehouse, incrementally.

Each refresh mirrors the snapshots the remote's branches and tags point at. For each new
one, every manifest not already part of a mirrored snapshot is read; the live files it
lists are copied (or reused when a verified copy exists) and checked against what the
manifest declares, then the manifest is rewritten to name the local files, then the
snapshot's manifest list. Only when every file of every new snapshot is present and
verified does the caller commit metadata naming them, so a mirror never shows a snapshot
whose files are not all there, and an interrupted refresh leaves the previous one intact
(its copied files are reused by the next attempt).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow.parquet as pq
from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestContent, ManifestEntry, ManifestEntryStatus, ManifestFile
from pyiceberg.table import TableProperties
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import Snapshot

from mirror.errors import SourceFileError, UnsupportedTableError
from mirror.file_copy import CopyStats, FileCopier, FileToCopy
from mirror.manifests import (
    is_position_delete,
    relocate,
    rewrite_manifest,
    rewrite_position_deletes,
    write_snapshot_manifest_list,
)
from mirror.paths import LocationMapper

SUPPORTED_FORMAT_VERSIONS = (1, 2)


@dataclass
class CopyResult:
    """What a copy produced: the snapshots now complete locally and where their manifest lists are."""

    snapshot_ids: set[int]
    manifest_lists: dict[int, str]
    new_snapshot_ids: list[int] = field(default_factory=list)
    stats: CopyStats = field(default_factory=CopyStats)


class SnapshotCopier:
    """Copies the wanted snapshots of one remote table into one local table location."""

    def __init__(
        self,
        remote: TableMetadata,
        remote_io: FileIO,
        local_io: FileIO,
        target_location: str,
        workers: int = 4,
        on_file: Callable[[FileToCopy], None] | None = None,
    ) -> None:
        if remote.format_version not in SUPPORTED_FORMAT_VERSIONS:
            raise UnsupportedTableError(
                f"Copy mode supports Iceberg format versions 1 and 2; the remote table is v{remote.format_version}"
            )
        self.remote = remote
        self.remote_io = remote_io
        self.local_io = local_io
        self.mapper = LocationMapper(remote.location, target_location)
        self.files = FileCopier(remote_io, local_io, workers, on_file)
        self.compression = remote.properties.get(
            TableProperties.WRITE_AVRO_COMPRESSION, TableProperties.WRITE_AVRO_COMPRESSION_DEFAULT
        )
        self._written: dict[str, ManifestFile] = {}

    def copy(self, mirrored: TableMetadata | None) -> CopyResult:
        """Bring every snapshot a remote ref points at here; ``mirrored`` is the local table's current metadata."""
        remote_ids = {s.snapshot_id for s in self.remote.snapshots}
        have = {s.snapshot_id for s in mirrored.snapshots} & remote_ids if mirrored else set()
        manifest_lists = (
            {s.snapshot_id: s.manifest_list for s in mirrored.snapshots if s.snapshot_id in have} if mirrored else {}
        )
        wanted = {ref.snapshot_id for ref in self.remote.refs.values()}
        if self.remote.current_snapshot_id is not None:
            wanted.add(self.remote.current_snapshot_id)
        new = sorted(
            (s for s in self.remote.snapshots if s.snapshot_id in wanted - have),
            key=lambda s: (s.sequence_number or 0, s.timestamp_ms),
        )
        result = CopyResult(snapshot_ids=set(have), manifest_lists=manifest_lists)
        if new:
            committed = self._committed_manifests(mirrored, have)
            for snapshot in new:
                result.manifest_lists[snapshot.snapshot_id] = self._copy_snapshot(snapshot, committed)
                result.snapshot_ids.add(snapshot.snapshot_id)
                result.new_snapshot_ids.append(snapshot.snapshot_id)
        result.stats.add(self.files.stats)
        return result

    def _committed_manifests(self, mirrored: TableMetadata | None, have: set[int]) -> dict[str, ManifestFile]:
        """Local manifests already part of a mirrored snapshot (never rewritten, their files all here)."""
        committed: dict[str, ManifestFile] = {}
        if mirrored is None:
            return committed
        for snapshot in mirrored.snapshots:
            if snapshot.snapshot_id in have:
                for manifest in snapshot.manifests(self.local_io):
                    committed[manifest.manifest_path] = manifest
        return committed

    def _copy_snapshot(self, snapshot: Snapshot, committed: dict[str, ManifestFile]) -> str:
        try:
            remote_manifests = snapshot.manifests(self.remote_io)
        except FileNotFoundError as exc:
            raise SourceFileError(f"Remote manifest list {snapshot.manifest_list} is missing") from exc
        slots: list[ManifestFile | int] = []  # a known local manifest, or the index of a pending one
        pending: list[tuple[ManifestFile, str, list[ManifestEntry]]] = []
        for manifest in remote_manifests:
            target = self.mapper.target(manifest.manifest_path)
            known = committed.get(target) or self._written.get(target)
            if known is not None:
                slots.append(known)
                continue
            try:
                entries = manifest.fetch_manifest_entry(self.remote_io, discard_deleted=False)
            except FileNotFoundError as exc:
                raise SourceFileError(f"Remote manifest {manifest.manifest_path} is missing") from exc
            slots.append(len(pending))
            pending.append((manifest, target, entries))

        self._copy_files(pending)
        rewritten: list[ManifestFile] = []
        for manifest, target, entries in pending:
            local = rewrite_manifest(manifest, entries, self.remote, self.local_io.new_output(target), self.compression)
            self._written[target] = local
            self.files.stats.metadata_files_written += 1
            self.files.stats.metadata_bytes_written += local.manifest_length
            rewritten.append(local)
        local_manifests = [rewritten[slot] if isinstance(slot, int) else slot for slot in slots]
        self._verify_totals(snapshot, local_manifests)

        target = self.mapper.target(snapshot.manifest_list)
        write_snapshot_manifest_list(
            snapshot, local_manifests, self.remote.format_version, self.local_io.new_output(target), self.compression
        )
        self.files.stats.metadata_files_written += 1
        self.files.stats.metadata_bytes_written += len(self.local_io.new_input(target))
        return target

    def _copy_files(self, pending: list[tuple[ManifestFile, str, list[ManifestEntry]]]) -> None:
        """Copy the live files the pending manifests list, then point their entries at the copies."""
        plain: dict[str, FileToCopy] = {}
        deletes: list[ManifestEntry] = []
        for _, _, entries in pending:
            for entry in entries:
                if entry.status == ManifestEntryStatus.DELETED:
                    relocate(entry, self.mapper.target(entry.data_file.file_path))
                    continue
                if is_position_delete(entry):
                    deletes.append(entry)
                    continue
                data_file = entry.data_file
                item = FileToCopy(
                    source=data_file.file_path,
                    target=self.mapper.target(data_file.file_path),
                    size=data_file.file_size_in_bytes,
                    record_count=data_file.record_count,
                    file_format=data_file.file_format.name,
                )
                plain.setdefault(item.target, item)
                relocate(entry, item.target)
        self.files.copy_all(list(plain.values()))
        for entry in deletes:
            source = entry.data_file.file_path
            target = self.mapper.target(source)
            size = self._rewritten_size(target, entry.data_file.record_count)
            if size is None:
                size = rewrite_position_deletes(
                    self.remote_io, self.local_io, source, target, entry.data_file.record_count, self.mapper
                )
                self.files.stats.files_copied += 1
                self.files.stats.bytes_copied += size
            else:
                self.files.stats.files_reused += 1
            relocate(entry, target, size)

    def _rewritten_size(self, target: str, record_count: int) -> int | None:
        """The size of a complete rewritten delete file already at ``target`` (never rewritten in place)."""
        try:
            with self.local_io.new_input(target).open(seekable=True) as stream:
                if pq.ParquetFile(stream).metadata.num_rows != record_count:
                    return None
            return len(self.local_io.new_input(target))
        except Exception:  # absent, or a partial file from an interrupted run: write it again
            return None

    @staticmethod
    def _verify_totals(snapshot: Snapshot, manifests: list[ManifestFile]) -> None:
        """The manifests' declared live files and rows must add up to the snapshot summary's totals."""
        summary = snapshot.summary.additional_properties if snapshot.summary else {}
        data = [m for m in manifests if m.content == ManifestContent.DATA]
        checks = (
            ("total-records", sum((m.added_rows_count or 0) + (m.existing_rows_count or 0) for m in data)),
            ("total-data-files", sum((m.added_files_count or 0) + (m.existing_files_count or 0) for m in data)),
        )
        for key, declared in checks:
            if key in summary and int(summary[key]) != declared:
                raise SourceFileError(
                    f"Remote snapshot {snapshot.snapshot_id} summary says {key}={summary[key]} "
                    f"but its manifests declare {declared}"
                )
