"""Expiring old snapshots of an Iceberg table, without losing the ingestion ledger.

PyIceberg 0.12's ``ExpireSnapshots`` removes snapshots from the metadata in one commit but
has no "keep the last N" rule and deletes no files; this module picks the snapshots to
expire and lets PyIceberg commit the removal. The files that only expired snapshots
referenced become unreferenced and are deleted by :mod:`operations.orphan_files`.

Ingestion records the units it loaded (hour files, directory versions) in snapshot
summaries (``commonlake.units``) and reads them back from every snapshot to load each
unit exactly once. Expiring those snapshots would make it forget units and load them a
second time. So before expiring, the units of the snapshots about to go are written into
a snapshot on the ``commonlake-ledger`` branch: it adds no data files (readers of
``main`` see nothing), it pins no data files (orphan removal is unaffected), and as a
branch head it is never expired itself; each expiry replaces it with an up-to-date one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from pyiceberg.table import Table
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import Snapshot

from ingestion.loader import UNITS_PROPERTY

LEDGER_BRANCH = "commonlake-ledger"
LEDGER_PROPERTY = "commonlake.maintenance"


@dataclass
class ExpiryResult:
    """What one expiry did to one table."""

    table: str
    expired_snapshot_ids: list[int] = field(default_factory=list)
    kept_snapshots: int = 0
    ledger_units: int = 0


def protected_snapshot_ids(table: Table) -> set[int]:
    """Snapshots that branch and tag heads point at (never expired)."""
    return {
        ref.snapshot_id
        for ref in table.metadata.refs.values()
        if ref.snapshot_ref_type in (SnapshotRefType.BRANCH, SnapshotRefType.TAG)
    }


def snapshots_to_expire(table: Table, older_than: datetime, retain_last: int) -> list[int]:
    """Ids of snapshots older than ``older_than``, except the newest ``retain_last`` and protected ones."""
    if retain_last < 1:
        raise ValueError("retain_last must be at least 1: the current snapshot is always kept")
    cutoff_ms = int(older_than.timestamp() * 1000)
    newest_first = sorted(table.metadata.snapshots, key=lambda s: (s.timestamp_ms, s.sequence_number), reverse=True)
    keep = {s.snapshot_id for s in newest_first[:retain_last]} | protected_snapshot_ids(table)
    return [s.snapshot_id for s in newest_first if s.timestamp_ms < cutoff_ms and s.snapshot_id not in keep]


def recorded_units(snapshot: Snapshot | None) -> set[str]:
    """The load units a snapshot's summary records."""
    if snapshot is None or snapshot.summary is None:
        return set()
    recorded = snapshot.summary.additional_properties.get(UNITS_PROPERTY)
    return set(json.loads(recorded)) if recorded else set()


def _carry_ledger(table: Table, expiring: list[int]) -> int:
    """Write the units of the expiring snapshots (and of the previous ledger) to a new ledger snapshot."""
    metadata = table.metadata
    expiring_units: set[str] = set()
    for snapshot_id in expiring:
        expiring_units |= recorded_units(metadata.snapshot_by_id(snapshot_id))
    if not expiring_units:
        return 0
    ledger_ref = metadata.refs.get(LEDGER_BRANCH)
    previous = metadata.snapshot_by_id(ledger_ref.snapshot_id) if ledger_ref else None
    units = expiring_units | recorded_units(previous)
    properties = {UNITS_PROPERTY: json.dumps(sorted(units)), LEDGER_PROPERTY: "ledger"}
    with table.transaction() as tx:
        tx.update_snapshot(snapshot_properties=properties, branch=LEDGER_BRANCH).fast_append().commit()
    table.refresh()
    return len(units)


def expire_snapshots(table: Table, older_than: datetime, retain_last: int, dry_run: bool = False) -> ExpiryResult:
    """Expire the snapshots :func:`snapshots_to_expire` picks, keeping the units they recorded."""
    table.refresh()
    result = ExpiryResult(".".join(table.name()[-2:]))
    expiring = snapshots_to_expire(table, older_than, retain_last)
    result.expired_snapshot_ids = expiring
    if expiring and not dry_run:
        result.ledger_units = _carry_ledger(table, expiring)
        table.maintenance.expire_snapshots().by_ids(expiring).commit()
        table.refresh()
    result.kept_snapshots = len(table.metadata.snapshots) - (len(expiring) if dry_run else 0)
    return result
