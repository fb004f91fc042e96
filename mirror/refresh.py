"""Refreshing a mirror: plan what changed on the remote, then bring each table up to date.

Remote and local tables are matched by the remote table's UUID (recorded on each local
table), not by name: a table renamed on the remote is renamed here and keeps refreshing;
a table dropped on the remote is reported and marked, never dropped here. Each table is
refreshed on its own: one table's failure (a corrupted remote file) is reported with its
reason and leaves that table on its previous complete state, while the others proceed.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from pyiceberg.catalog import Catalog
from pyiceberg.io import FileIO, load_file_io

from commonlake.settings import Settings
from mirror import properties as p
from mirror.copy_mode import SnapshotCopier
from mirror.errors import MirrorError
from mirror.file_copy import CopyStats, FileToCopy
from mirror.local_tables import (
    LocalTable,
    commit_metadata,
    mirrored_metadata,
    mirrored_tables,
    new_table_directory,
    provenance,
)
from mirror.register_mode import check_readable
from mirror.registry import MirrorConfig, ensure_namespace, get_mirror, local_catalog, local_errors, record_refresh
from mirror.remote import Identifier, RemoteTable, list_remote_tables


class Action(StrEnum):
    """What a refresh does to one table."""

    CREATE = "create"
    UPDATE = "update"
    UP_TO_DATE = "up-to-date"
    SOURCE_DROPPED = "source-dropped"
    CONFLICT = "conflict"


@dataclass
class PlannedTable:
    """One table's part of a refresh."""

    action: Action
    local: Identifier
    remote: RemoteTable | None = None
    existing: LocalTable | None = None
    rename_from: Identifier | None = None
    reason: str = ""

    @property
    def changes(self) -> bool:
        """True when carrying it out would change the local catalog."""
        if self.action in (Action.CREATE, Action.UPDATE) or self.rename_from is not None:
            return True
        return self.action is Action.SOURCE_DROPPED and p.SOURCE_DROPPED_AT not in self.existing.properties  # type: ignore[union-attr]


@dataclass
class RefreshPlan:
    """What a refresh of one mirror would do, and a fingerprint of the remote state it saw."""

    config: MirrorConfig
    tables: list[PlannedTable]
    fingerprint: str

    @property
    def has_changes(self) -> bool:
        """True when the remote moved since the last refresh (or a table needs attention)."""
        return any(t.changes for t in self.tables)


@dataclass
class TableOutcome:
    """What a refresh did to one table."""

    table: str
    source: str
    action: str  # created | updated | renamed | up-to-date | source-dropped | conflict | failed
    snapshot_id: int | None = None
    previous_snapshot_id: int | None = None
    new_snapshots: int = 0
    stats: CopyStats = field(default_factory=CopyStats)
    seconds: float = 0.0
    message: str = ""

    @property
    def ok(self) -> bool:
        """False for a failure or a conflict that needs a person."""
        return self.action not in ("failed", "conflict")


@dataclass
class RefreshReport:
    """The outcome of refreshing one mirror."""

    mirror: str
    mode: str
    outcomes: list[TableOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every table is up to date (or kept after a remote drop)."""
        return all(o.ok for o in self.outcomes)

    @property
    def stats(self) -> CopyStats:
        """Files and bytes over every table."""
        total = CopyStats()
        for outcome in self.outcomes:
            total.add(outcome.stats)
        return total

    def summary(self) -> dict:
        """A small JSON-able record of this refresh (kept on the mirror's namespace)."""
        stats = self.stats
        return {
            "at_ms": int(time.time() * 1000),
            "ok": self.ok,
            "tables": len(self.outcomes),
            "changed": sum(o.action in ("created", "updated", "renamed") for o in self.outcomes),
            "failed": [f"{o.table}: {o.message}" for o in self.outcomes if not o.ok],
            "files_copied": stats.files_copied,
            "bytes_copied": stats.bytes_copied,
            "seconds": round(self.seconds, 3),
        }


def plan_refresh(settings: Settings, name: str, catalog: Catalog | None = None) -> RefreshPlan:
    """Compare the remote's tables with the local mirror's; nothing is written."""
    catalog = catalog or local_catalog(settings)
    config = get_mirror(settings, name, catalog)
    remote_tables = list_remote_tables(config.remote_catalog(), config.remote_uri, config.namespaces)
    with local_errors(settings):
        local_tables = mirrored_tables(catalog, config)
    return _plan(config, remote_tables, local_tables)


def _plan(config: MirrorConfig, remote_tables: list[RemoteTable], local_tables: list[LocalTable]) -> RefreshPlan:
    by_uuid = {t.source_uuid: t for t in local_tables}
    by_name = {t.identifier: t for t in local_tables}
    planned: list[PlannedTable] = []
    seen: set[str] = set()
    for remote in remote_tables:
        seen.add(remote.uuid)
        wanted = (*config.local_namespace(remote.namespace), remote.name)
        existing = by_uuid.get(remote.uuid)
        if existing is None:
            holder = by_name.get(wanted)
            if holder is not None:
                planned.append(
                    PlannedTable(
                        Action.CONFLICT,
                        wanted,
                        remote,
                        holder,
                        reason=f"{'.'.join(wanted)} mirrors an earlier remote table of that name "
                        f"(uuid {holder.source_uuid}), now replaced by uuid {remote.uuid} on the remote; "
                        "drop the local table to mirror the new one",
                    )
                )
            else:
                planned.append(PlannedTable(Action.CREATE, wanted, remote))
            continue
        rename_from = None
        reason = ""
        if existing.identifier != wanted:
            if wanted in by_name:
                reason = f"cannot follow the remote rename to {'.'.join(wanted)}: that name is taken here"
                wanted = existing.identifier
            else:
                rename_from = existing.identifier
        current = (
            existing.properties.get(p.SOURCE_METADATA_LOCATION) == remote.table.metadata_location
            and p.SOURCE_DROPPED_AT not in existing.properties
        )
        action = Action.UP_TO_DATE if current else Action.UPDATE
        planned.append(PlannedTable(action, wanted, remote, existing, rename_from, reason))
    for local in local_tables:
        if local.source_uuid not in seen:
            planned.append(
                PlannedTable(
                    Action.SOURCE_DROPPED,
                    local.identifier,
                    existing=local,
                    reason=f"{local.properties.get(p.SOURCE_TABLE)} is gone from the remote; the local copy is kept",
                )
            )
    state = sorted(f"{r.uuid}={r.table.metadata_location}" for r in remote_tables)
    fingerprint = hashlib.sha256("\n".join([config.remote_uri, *state]).encode()).hexdigest()[:24]
    return RefreshPlan(config, planned, fingerprint)


def refresh_mirror(
    settings: Settings,
    name: str,
    catalog: Catalog | None = None,
    on_file: Callable[[FileToCopy], None] | None = None,
) -> RefreshReport:
    """Bring every table of a mirror up to date with the remote; see :class:`RefreshReport`."""
    began = time.monotonic()
    catalog = catalog or local_catalog(settings)
    plan = plan_refresh(settings, name, catalog)
    report = RefreshReport(plan.config.name, plan.config.mode)
    refresher = _TableRefresher(settings, catalog, plan.config, on_file)
    for planned in plan.tables:
        report.outcomes.append(refresher.run(planned))
    report.seconds = time.monotonic() - began
    with local_errors(settings):
        record_refresh(catalog, name, report.summary())
    return report


class _TableRefresher:
    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        config: MirrorConfig,
        on_file: Callable[[FileToCopy], None] | None,
    ) -> None:
        self.settings = settings
        self.catalog = catalog
        self.config = config
        self.on_file = on_file
        self.warehouse = settings.warehouse_location
        self.local_io: FileIO = load_file_io(settings.storage.fileio_properties(), self.warehouse)

    def run(self, planned: PlannedTable) -> TableOutcome:
        began = time.monotonic()
        local_name = ".".join(planned.local)
        source = planned.remote.qualified if planned.remote else (planned.existing.properties.get(p.SOURCE_TABLE, ""))  # type: ignore[union-attr]
        outcome = TableOutcome(local_name, source, planned.action.value, message=planned.reason)
        if planned.existing is not None:
            snapshot = planned.existing.table.current_snapshot()
            outcome.previous_snapshot_id = outcome.snapshot_id = snapshot.snapshot_id if snapshot else None
        try:
            with local_errors(self.settings):
                if planned.action is Action.SOURCE_DROPPED:
                    self._mark_dropped(planned.existing)  # type: ignore[arg-type]
                elif planned.action in (Action.CREATE, Action.UPDATE):
                    self._bring_up_to_date(planned, outcome)
        except MirrorError as exc:
            outcome.action, outcome.message = "failed", str(exc)
        except Exception as exc:  # report any other failure of this table and go on with the others
            outcome.action, outcome.message = "failed", f"{type(exc).__name__}: {exc}"
        outcome.seconds = time.monotonic() - began
        return outcome

    def _bring_up_to_date(self, planned: PlannedTable, outcome: TableOutcome) -> None:
        remote = planned.remote
        assert remote is not None
        existing = planned.existing
        if existing is None or planned.rename_from is not None:
            ensure_namespace(self.catalog, planned.local[:-1])
        if planned.rename_from is not None:
            self.catalog.rename_table(planned.rename_from, planned.local)
            existing = LocalTable(planned.local, self.catalog.load_table(planned.local))
        table_uuid = existing.table.metadata.table_uuid if existing else uuid.uuid4()
        properties = provenance(self.config, remote)
        if self.config.mode == "register":
            check_readable(remote, self.local_io)
            metadata_dir = (
                existing.metadata_dir if existing else new_table_directory(self.warehouse, planned.local) + "/metadata"
            )
            metadata = mirrored_metadata(
                remote.table.metadata,
                location=remote.table.metadata.location,
                table_uuid=table_uuid,
                properties=properties,
                previous=existing,
            )
            outcome.new_snapshots = int(
                existing is None
                or existing.properties.get(p.SOURCE_SNAPSHOT_ID) != properties.get(p.SOURCE_SNAPSHOT_ID)
            )
        else:
            location = (
                existing.table.metadata.location if existing else new_table_directory(self.warehouse, planned.local)
            )
            copier = SnapshotCopier(
                remote.table.metadata,
                remote.table.io,
                self.local_io,
                location,
                self.settings.mirror.copy_workers,
                self.on_file,
            )
            result = copier.copy(existing.table.metadata if existing else None)
            outcome.stats = result.stats
            outcome.new_snapshots = len(result.new_snapshot_ids)
            metadata_dir = f"{location}/metadata"
            metadata = mirrored_metadata(
                remote.table.metadata,
                location=location,
                table_uuid=table_uuid,
                properties=properties,
                previous=existing,
                snapshot_ids=result.snapshot_ids,
                manifest_list=result.manifest_lists,
            )
        _, size = commit_metadata(self.catalog, self.local_io, planned.local, metadata, metadata_dir, existing)
        outcome.stats.metadata_files_written += 1
        outcome.stats.metadata_bytes_written += size
        outcome.snapshot_id = metadata.current_snapshot_id
        outcome.action = "created" if existing is None else ("renamed" if planned.rename_from else "updated")
        if planned.rename_from is not None:
            outcome.message = f"renamed from {'.'.join(planned.rename_from)} (renamed on the remote)"

    def _mark_dropped(self, local: LocalTable) -> None:
        if p.SOURCE_DROPPED_AT in local.properties:
            return
        metadata = local.table.metadata
        properties = {**metadata.properties, p.SOURCE_DROPPED_AT: str(int(time.time() * 1000))}
        # Same content, one more property: a new local metadata file whose log names the previous one.
        updated = mirrored_metadata(
            metadata,
            location=metadata.location,
            table_uuid=metadata.table_uuid,
            properties=properties,
            previous=local,
        )
        commit_metadata(self.catalog, self.local_io, local.identifier, updated, local.metadata_dir, local)
