"""Table maintenance over a catalog: which tables, in which order, with which limits.

The order is compaction (small files become target-sized ones), snapshot expiry (old
snapshots leave the metadata), then orphan-file removal (files nothing references any
more are deleted). Files referenced by any retained snapshot are never deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from fnmatch import fnmatchcase

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError
from pyiceberg.table import Table

from commonlake.settings import MaintenanceSettings
from operations.compaction import CompactionResult, compact_table
from operations.orphan_files import OrphanResult, remove_orphan_files
from operations.snapshot_expiry import ExpiryResult, expire_snapshots


class MaintenanceStep(StrEnum):
    """One kind of maintenance, in the order :func:`run_maintenance` applies them."""

    COMPACT = "compact"
    EXPIRE_SNAPSHOTS = "expire-snapshots"
    REMOVE_ORPHAN_FILES = "remove-orphan-files"


ALL_STEPS = tuple(MaintenanceStep)


@dataclass
class MaintenanceReport:
    """Results per step, per table."""

    compaction: list[CompactionResult] = field(default_factory=list)
    expiry: list[ExpiryResult] = field(default_factory=list)
    orphans: list[OrphanResult] = field(default_factory=list)


def _matching_namespaces(catalog: Catalog, patterns: Iterable[str]) -> list[str]:
    """The namespaces named by ``patterns``; a pattern with ``*``, ``?`` or ``[`` is a glob over the catalog's."""
    names: list[str] = []
    existing: list[str] | None = None
    for pattern in patterns:
        if not any(char in pattern for char in "*?["):
            names.append(pattern)
            continue
        if existing is None:
            existing = [".".join(namespace) for namespace in catalog.list_namespaces()]
        names += [name for name in existing if fnmatchcase(name, pattern)]
    return list(dict.fromkeys(names))


def maintained_tables(catalog: Catalog, namespaces: Iterable[str], tables: Iterable[str] = ()) -> list[Table]:
    """The tables to maintain: the named ones (``ns.table``), or every table of ``namespaces`` (globs allowed)."""
    names = list(tables)
    if not names:
        for namespace in _matching_namespaces(catalog, namespaces):
            try:
                names += [".".join(identifier) for identifier in catalog.list_tables(namespace)]
            except NoSuchNamespaceError:
                continue
    return [catalog.load_table(name) for name in sorted(names)]


def run_maintenance(
    catalog: Catalog,
    settings: MaintenanceSettings,
    steps: Iterable[MaintenanceStep] = ALL_STEPS,
    tables: Iterable[str] = (),
    now: datetime | None = None,
    dry_run: bool = False,
) -> MaintenanceReport:
    """Apply ``steps`` (in their fixed order) to the maintained tables."""
    now = now or datetime.now(UTC)
    wanted = set(steps)
    report = MaintenanceReport()
    for table in maintained_tables(catalog, settings.namespaces, tables):
        if MaintenanceStep.COMPACT in wanted and not dry_run:
            report.compaction.append(
                compact_table(table, settings.compaction_target_file_bytes, settings.compaction_min_input_files)
            )
        if MaintenanceStep.EXPIRE_SNAPSHOTS in wanted:
            cutoff = now - timedelta(hours=settings.snapshot_max_age_hours)
            report.expiry.append(expire_snapshots(table, cutoff, settings.retain_last_snapshots, dry_run=dry_run))
        if MaintenanceStep.REMOVE_ORPHAN_FILES in wanted:
            cutoff = now - timedelta(hours=settings.orphan_min_age_hours)
            report.orphans.append(remove_orphan_files(table, cutoff, dry_run=dry_run))
    return report
