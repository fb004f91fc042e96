"""Table operations: create, load, commit (single and multi-table), drop, rename, register.

The metadata spec is applied by PyIceberg's own model and update logic
(``update_table_metadata`` and the requirement classes), never re-implemented here.
This module adds what a server must: choosing and checking locations, writing each new
metadata file, and swapping the table's pointer atomically through the store.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from pyiceberg.catalog import MetastoreCatalog, delete_files
from pyiceberg.catalog.rest import CreateTableRequest, RegisterTableRequest
from pyiceberg.exceptions import CommitFailedException, ValidationError
from pyiceberg.io import FileIO
from pyiceberg.manifest import ManifestFile
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.table import CommitTableRequest
from pyiceberg.table.locations import load_location_provider
from pyiceberg.table.metadata import TableMetadata, new_table_metadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
from pyiceberg.table.update import (
    AssertCreate,
    SetLocationUpdate,
    TableRequirement,
    TableUpdate,
)

from catalog.commit_queue import CommitQueue
from catalog.errors import BadRequestError, CommitFailedError, ForbiddenError, NoSuchTableError
from catalog.metadata_files import MetadataFiles, SnapshotsMode
from catalog.metadata_updates import apply_table_updates
from catalog.names import Identifier, display, validate_name, validate_namespace
from catalog.store import CatalogStore, ConcurrentCommitError, LocationSwap
from catalog.warehouse import Warehouse

logger = logging.getLogger(__name__)

# A table whose metadata has this property set to "true" refuses every commit (403): a
# mirror of another node's table (``mirror/``) changes only by registering new metadata.
READ_ONLY_PROPERTY = "commonlake.read-only"
# How long a commit waits for its turn behind other commits to the same table in this
# process before it goes ahead anyway (the compare-and-swap keeps that correct).
COMMIT_TURN_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class PreparedCommit:
    """A commit whose new metadata file is written but not yet swapped in."""

    namespace: Identifier
    name: str
    base_location: str | None
    new_location: str
    metadata: TableMetadata


@dataclass(frozen=True)
class LoadedTable:
    """A table's current metadata location and the serialized LoadTableResult."""

    metadata_location: str
    body: bytes


class TableCatalog:
    """Table operations of one warehouse."""

    def __init__(
        self, store: CatalogStore, files: MetadataFiles, warehouse: Warehouse, commit_retries: int = 10
    ) -> None:
        self.store = store
        self.files = files
        self.warehouse = warehouse
        self.commit_retries = commit_retries
        self.commit_queue = CommitQueue(COMMIT_TURN_TIMEOUT_SECONDS)

    # ---- reads -------------------------------------------------------------------------
    def load(
        self, namespace: Identifier, name: str, snapshots: SnapshotsMode = "all", include_secrets: bool = True
    ) -> LoadedTable:
        """The current LoadTableResult of a table, serialized (cached by metadata location)."""
        stored = self.store.get_object(self.warehouse.name, namespace, name, "table")
        body = self.files.table_response(
            stored.metadata_location, snapshots, self.warehouse.client_config(include_secrets)
        )
        return LoadedTable(stored.metadata_location, body)

    def current_location(self, namespace: Identifier, name: str) -> str:
        """The current metadata location (raises NoSuchTable/NoSuchNamespace)."""
        return self.store.get_object(self.warehouse.name, namespace, name, "table").metadata_location

    def list(self, namespace: Identifier, after: str | None = None, limit: int | None = None) -> list[str]:
        """Table names in a namespace, ordered."""
        return self.store.list_objects(self.warehouse.name, namespace, "table", after, limit)

    # ---- create / register -------------------------------------------------------------------
    def create(self, namespace: Identifier, request: CreateTableRequest) -> tuple[str | None, TableMetadata]:
        """Create a table, or with ``stage-create`` only return the metadata it would have."""
        validate_namespace(namespace)
        name = validate_name(request.name, "table name")
        self.store.require_name_free(self.warehouse.name, namespace, name)
        table_uuid = uuid.uuid4()
        location = self.warehouse.location_for(namespace, name, request.location, str(table_uuid))
        properties = dict(request.properties)
        try:
            metadata = new_table_metadata(
                schema=request.table_schema,
                partition_spec=request.partition_spec or UNPARTITIONED_PARTITION_SPEC,
                sort_order=request.write_order or UNSORTED_SORT_ORDER,
                location=location,
                properties=properties,
                table_uuid=table_uuid,
            )
        except (ValueError, ValidationError) as exc:
            raise BadRequestError(f"Invalid table definition: {exc}") from exc

        if request.stage_create:
            self._ensure_metadata_dir(location)
            return None, metadata

        metadata_location = load_location_provider(location, metadata.properties).new_table_metadata_file_location(0)
        self._check_metadata_location(metadata_location)
        self.files.write_table(metadata, metadata_location)
        try:
            self.store.swap_locations(
                self.warehouse.name, [LocationSwap(namespace, name, expected=None, new=metadata_location)]
            )
        except Exception:
            self.files.delete_quietly(metadata_location)
            raise
        return metadata_location, metadata

    def register(self, namespace: Identifier, request: RegisterTableRequest) -> tuple[str, TableMetadata]:
        """Register an existing metadata file as a table (optionally replacing the pointer)."""
        name = validate_name(request.name, "table name")
        location = request.metadata_location
        # Only files inside the warehouse: the catalog must not read arbitrary paths for a client.
        self._check_metadata_location(location)
        metadata = self.files.read_table(location)
        existing = self.store.find_object(self.warehouse.name, namespace, name)
        expected = existing.metadata_location if (existing and request.overwrite) else None
        self.store.swap_locations(self.warehouse.name, [LocationSwap(namespace, name, expected=expected, new=location)])
        return location, metadata

    def _ensure_metadata_dir(self, location: str) -> None:
        # DuckDB writes its first manifest before the create commit; on a local warehouse
        # it fails unless the table's metadata directory already exists.
        if location.startswith("file:") or "://" not in location:
            from pathlib import Path
            from urllib.parse import unquote, urlparse

            path = unquote(urlparse(location).path) if location.startswith("file:") else location
            Path(path, "metadata").mkdir(parents=True, exist_ok=True)

    def _check_metadata_location(self, location: str) -> None:
        self.warehouse.check_location(location.rsplit("/", 1)[0])

    # ---- commits ---------------------------------------------------------------------------
    def prepare(
        self,
        namespace: Identifier,
        name: str,
        requirements: tuple[TableRequirement, ...],
        updates: tuple[TableUpdate, ...],
    ) -> PreparedCommit | None:
        """Check requirements, apply updates and write the new metadata file.

        Returns None when the updates change nothing (nothing to swap).
        """
        validate_namespace(namespace)
        validate_name(name, "table name")
        stored = self.store.find_object(self.warehouse.name, namespace, name)
        creating = any(isinstance(r, AssertCreate) for r in requirements)
        if stored is None or stored.kind != "table":
            if not creating or stored is not None:
                if stored is None:
                    with self.store.read() as conn:
                        self.store.require_namespace(conn, self.warehouse.name, namespace)
                    raise NoSuchTableError(f"Table does not exist: {display(namespace, name)}")
                raise CommitFailedError(f"Requirement failed: {display(namespace, name)} is a view")
            base: TableMetadata | None = None
            base_location: str | None = None
        else:
            base_location = stored.metadata_location
            base = self.files.read_table(base_location)
            if base.properties.get(READ_ONLY_PROPERTY, "").lower() == "true":
                raise ForbiddenError(
                    f"Table {display(namespace, name)} is read-only ({READ_ONLY_PROPERTY}=true): local commits are "
                    "refused; a mirrored table changes only when its mirror is refreshed"
                )

        try:
            for requirement in requirements:
                requirement.validate(base)
        except CommitFailedException as exc:
            raise CommitFailedError(str(exc)) from exc

        for upd in updates:
            if isinstance(upd, SetLocationUpdate):
                self.warehouse.check_location(upd.location)
        try:
            new_metadata = apply_table_updates(base, updates, base_location)
        except CommitFailedException as exc:
            raise CommitFailedError(str(exc)) from exc
        except (ValueError, ValidationError, NotImplementedError, KeyError) as exc:
            raise BadRequestError(f"Invalid table update: {exc}") from exc

        if base is not None and not updates:
            return None
        if base is None:
            self.warehouse.check_location(new_metadata.location)

        version = MetastoreCatalog._parse_metadata_version(base_location) + 1 if base_location else 0
        new_location = load_location_provider(
            new_metadata.location, new_metadata.properties
        ).new_table_metadata_file_location(version)
        self._check_metadata_location(new_location)
        self.files.write_table(new_metadata, new_location)
        return PreparedCommit(namespace, name, base_location, new_location, new_metadata)

    def commit(self, prepared: list[PreparedCommit]) -> None:
        """Swap every prepared commit in one database transaction, or none of them."""
        swaps = [LocationSwap(p.namespace, p.name, p.base_location, p.new_location) for p in prepared]
        try:
            self.store.swap_locations(self.warehouse.name, swaps)
        except Exception:
            for p in prepared:
                self.files.delete_quietly(p.new_location)
            raise

    def commit_table(
        self,
        namespace: Identifier,
        name: str,
        requirements: tuple[TableRequirement, ...],
        updates: tuple[TableUpdate, ...],
    ) -> tuple[str, TableMetadata]:
        """Commit requirements + updates to one table; returns the new location and metadata.

        Commits to the same table from this process take turns (:mod:`catalog.commit_queue`)
        instead of racing each other to the swap.
        """
        with self.commit_queue.turn((namespace, name)):
            for attempt in self._attempts():
                prepared = self.prepare(namespace, name, requirements, updates)
                if prepared is None:
                    location = self.current_location(namespace, name)
                    return location, self.files.read_table(location)
                try:
                    self.commit([prepared])
                except ConcurrentCommitError:
                    if attempt == self.commit_retries:
                        raise
                    continue
                return prepared.new_location, prepared.metadata
            raise AssertionError("unreachable")

    def _attempts(self) -> Iterator[int]:
        """Attempt numbers of a commit; a lost race re-checks the requirements on the new state.

        As in the Java reference server: when another writer moved the pointer between our
        read and our swap, the client's requirements are validated again on the fresh
        metadata, and only if they still hold are its updates re-applied. A requirement
        that no longer holds is a 409 for the client.
        """
        for attempt in range(self.commit_retries + 1):
            if attempt:
                # Jittered, growing pauses spread racing writers apart.
                time.sleep(random.uniform(0.0005, 0.001 * min(attempt, 5) ** 2))
            yield attempt

    def commit_transaction(self, changes: list[CommitTableRequest]) -> None:
        """Commit changes to several tables atomically (``POST /v1/{prefix}/transactions/commit``)."""
        seen: set[tuple[Identifier, str]] = set()
        for change in changes:
            key = (tuple(change.identifier.namespace.root), change.identifier.name)
            if key in seen:
                raise BadRequestError(f"Table {display(*key)} appears more than once in the transaction")
            seen.add(key)
        for attempt in self._attempts():
            prepared: list[PreparedCommit] = []
            try:
                for change in changes:
                    p = self.prepare(
                        tuple(change.identifier.namespace.root),
                        change.identifier.name,
                        change.requirements,
                        change.updates,
                    )
                    if p is not None:
                        prepared.append(p)
            except Exception:
                for p in prepared:
                    self.files.delete_quietly(p.new_location)
                raise
            if not prepared:
                return
            try:
                self.commit(prepared)
            except ConcurrentCommitError:
                if attempt == self.commit_retries:
                    raise
                continue
            return

    # ---- drop / rename ------------------------------------------------------------------------
    def drop(self, namespace: Identifier, name: str, purge: bool) -> None:
        """Drop a table; with ``purge`` also delete every file its metadata references."""
        location = self.store.drop_object(self.warehouse.name, namespace, name, "table")
        if purge:
            self._purge_files(location)

    def _purge_files(self, metadata_location: str) -> None:
        """Delete the files a table's metadata references, but only those inside this warehouse.

        A registered table may reference files elsewhere (a register-mode mirror points at
        another node's bucket): purging it must never delete another node's data.
        """
        metadata = self.files.read_table(metadata_location)
        io: FileIO = self.files.io_for(metadata_location)
        inside = self.warehouse.contains
        manifests: list[ManifestFile] = []
        manifest_lists: set[str] = set()
        for snapshot in metadata.snapshots:
            if not inside(snapshot.manifest_list):
                continue
            try:
                manifests += [m for m in snapshot.manifests(io) if inside(m.manifest_path)]
            except FileNotFoundError:
                logger.warning("Manifest list %s is already gone", snapshot.manifest_list)
            manifest_lists.add(snapshot.manifest_list)
        data_files: set[str] = set()
        for manifest in set(manifests):
            try:
                entries = manifest.fetch_manifest_entry(io, discard_deleted=False)
                data_files.update(entry.data_file.file_path for entry in entries)
            except FileNotFoundError:
                logger.warning("Manifest %s is already gone", manifest.manifest_path)
        delete_files(io, {path for path in data_files if inside(path)}, "data")
        delete_files(io, {m.manifest_path for m in manifests}, "manifest")
        delete_files(io, manifest_lists, "manifest list")
        delete_files(io, {s.statistics_path for s in metadata.statistics if inside(s.statistics_path)}, "statistics")
        previous = {log.metadata_file for log in metadata.metadata_log if inside(log.metadata_file)}
        delete_files(io, previous, "previous metadata")
        delete_files(io, {metadata_location}, "metadata")

    def rename(self, source: tuple[Identifier, str], destination: tuple[Identifier, str]) -> None:
        """Rename (or move to another namespace) a table."""
        validate_namespace(destination[0])
        validate_name(destination[1], "table name")
        self.store.rename_object(self.warehouse.name, source, destination, "table")


__all__ = ["READ_ONLY_PROPERTY", "LoadedTable", "PreparedCommit", "TableCatalog"]
