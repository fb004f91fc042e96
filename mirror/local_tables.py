"""This node's side of a mirror: its mirrored tables, their metadata files, and the atomic switch to new ones.

A refresh writes a complete new metadata file into the local warehouse and then registers
it over the table's previous one (``POST …/register`` with ``overwrite``) through the local
catalog's REST API: one pointer swap, so readers see the previous mirrored state or the
new one, never a mix. Mirrored tables are read-only (``commonlake.read-only``), so the
catalog refuses every other writer (403); registering is how the mirror alone moves them.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError
from pyiceberg.io import FileIO
from pyiceberg.serializers import ToOutputFile
from pyiceberg.table import Table
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.snapshots import MetadataLogEntry, SnapshotLogEntry

from mirror import properties as p
from mirror.errors import MirrorError
from mirror.registry import MirrorConfig
from mirror.remote import Identifier, RemoteTable, load_tables

PREVIOUS_VERSIONS_MAX = "write.metadata.previous-versions-max"
_VERSION = re.compile(r"^(\d+)-")


@dataclass(frozen=True)
class LocalTable:
    """A mirrored table of this node, as loaded now."""

    identifier: Identifier
    table: Table

    @property
    def properties(self) -> dict[str, str]:
        """The table's properties (its provenance)."""
        return self.table.properties

    @property
    def source_uuid(self) -> str | None:
        """The UUID of the remote table it mirrors."""
        return self.properties.get(p.SOURCE_TABLE_UUID)

    @property
    def qualified(self) -> str:
        """``NAME.namespace.table``."""
        return ".".join(self.identifier)

    @property
    def metadata_dir(self) -> str:
        """The directory of its metadata files (where the next one goes)."""
        return self.table.metadata_location.rsplit("/", 1)[0]


def mirrored_tables(catalog: Catalog, config: MirrorConfig) -> list[LocalTable]:
    """The local tables of a mirror, across its namespaces."""
    tables: list[LocalTable] = []
    for namespace in config.namespaces:
        local_namespace = config.local_namespace(namespace)
        try:
            identifiers = catalog.list_tables(local_namespace)
        except NoSuchNamespaceError:  # removed by hand: nothing mirrored there
            continue
        for identifier, table in load_tables(catalog, identifiers):
            if table.properties.get(p.MIRROR_NAME) == config.name:
                tables.append(LocalTable(identifier, table))
    return tables


def new_table_directory(warehouse_location: str, identifier: Identifier) -> str:
    """Where a new mirrored table's files go: ``<warehouse>/<NAME>/<ns>/<table>-<suffix>``."""
    parts = [quote(level, safe="") for level in identifier[:-1]]
    return "/".join(
        [warehouse_location.rstrip("/"), *parts, f"{quote(identifier[-1], safe='')}-{uuid.uuid4().hex[:8]}"]
    )


def provenance(config: MirrorConfig, remote: RemoteTable) -> dict[str, str]:
    """The properties that say where a mirrored table comes from (and make it read-only)."""
    snapshot = remote.table.current_snapshot()
    props = {
        p.SOURCE_NODE: config.source_node,
        p.SOURCE_TABLE: remote.qualified,
        p.SOURCE_TABLE_UUID: remote.uuid,
        p.SOURCE_METADATA_LOCATION: remote.table.metadata_location,
        p.MIRROR_NAME: config.name,
        p.MIRROR_MODE: config.mode,
        p.MIRRORED_AT: str(int(time.time() * 1000)),
        p.READ_ONLY: "true",
    }
    if snapshot is not None:
        props[p.SOURCE_SNAPSHOT_ID] = str(snapshot.snapshot_id)
    if config.remote_warehouse:
        props[p.SOURCE_WAREHOUSE] = config.remote_warehouse
    return props


def mirrored_metadata(
    remote: TableMetadata,
    *,
    location: str,
    table_uuid: uuid.UUID,
    properties: dict[str, str],
    previous: LocalTable | None,
    snapshot_ids: set[int] | None = None,
    manifest_list: dict[int, str] | None = None,
) -> TableMetadata:
    """The local metadata of a mirrored table: the remote's, re-homed.

    ``snapshot_ids`` keeps only those snapshots (copy mode: the ones whose files are all
    here) with their manifest lists moved to ``manifest_list``; by default every snapshot
    stays as is (register mode). The metadata log is this table's own (its previous local
    metadata files), and statistics files are kept only when nothing moved.
    """
    snapshots = remote.snapshots
    refs = remote.refs
    snapshot_log = remote.snapshot_log
    statistics, partition_statistics = remote.statistics, remote.partition_statistics
    if snapshot_ids is not None:
        moved = manifest_list or {}
        snapshots = [
            s.model_copy(update={"manifest_list": moved.get(s.snapshot_id, s.manifest_list)})
            for s in remote.snapshots
            if s.snapshot_id in snapshot_ids
        ]
        refs = {name: ref for name, ref in remote.refs.items() if ref.snapshot_id in snapshot_ids}
        snapshot_log = [entry for entry in remote.snapshot_log if entry.snapshot_id in snapshot_ids]
        statistics, partition_statistics = [], []
    merged = {k: v for k, v in remote.properties.items() if k not in p.REMOTE_PATH_PROPERTIES}
    merged.update(properties)
    current = remote.current_snapshot_id
    if current is not None and not any(s.snapshot_id == current for s in snapshots):
        current = None
    metadata_log: list[MetadataLogEntry] = []
    if previous is not None:
        metadata_log = [
            *previous.table.metadata.metadata_log,
            MetadataLogEntry(
                metadata_file=previous.table.metadata_location, timestamp_ms=previous.table.metadata.last_updated_ms
            ),
        ]
        keep = int(merged.get(PREVIOUS_VERSIONS_MAX, "100"))
        metadata_log = metadata_log[-keep:] if keep > 0 else []
    now = int(time.time() * 1000)
    last_updated = max(now, remote.last_updated_ms, previous.table.metadata.last_updated_ms + 1 if previous else 0)
    return remote.model_copy(
        update={
            "location": location,
            "table_uuid": table_uuid,
            "snapshots": snapshots,
            "refs": refs,
            "current_snapshot_id": current,
            "snapshot_log": [
                SnapshotLogEntry(snapshot_id=e.snapshot_id, timestamp_ms=e.timestamp_ms) for e in snapshot_log
            ],
            "metadata_log": metadata_log,
            "statistics": statistics,
            "partition_statistics": partition_statistics,
            "properties": merged,
            "last_updated_ms": last_updated,
        }
    )


def commit_metadata(
    catalog: Catalog,
    io: FileIO,
    identifier: Identifier,
    metadata: TableMetadata,
    metadata_dir: str,
    previous: LocalTable | None,
) -> tuple[str, int]:
    """Write the metadata file and register it in one swap; returns its location and size.

    With a previous version the table is re-pointed only if nobody moved it since it was
    loaded (a concurrent refresh of the same mirror would otherwise be silently undone).
    """
    version = _next_version(previous.table.metadata_location if previous else None)
    location = f"{metadata_dir}/{version:05d}-{uuid.uuid4()}.metadata.json"
    output = io.new_output(location)
    ToOutputFile.table_metadata(metadata, output)
    size = len(io.new_input(location))
    try:
        if previous is not None:
            current = catalog.load_table(identifier).metadata_location
            if current != previous.table.metadata_location:
                raise MirrorError(
                    f"{'.'.join(identifier)} changed while it was being refreshed (another refresh?); refresh again"
                )
        catalog.register_table(identifier, location, overwrite=previous is not None)
    except BaseException:
        with contextlib.suppress(OSError):
            io.delete(location)
        raise
    return location, size


def _next_version(location: str | None) -> int:
    if location is None:
        return 0
    match = _VERSION.match(location.rsplit("/", 1)[-1])
    return int(match.group(1)) + 1 if match else 1
