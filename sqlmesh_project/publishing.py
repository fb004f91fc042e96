"""Publishing a SQLMesh physical table under a stable name, ``marts.<model>``, without copying it.

SQLMesh's virtual layer is views, which other engines cannot read from an Iceberg catalog
(and DuckDB cannot even create there), so every mart is published as an Iceberg table of
its own. Copying the rows would cost as much as the model itself, on every run: the
events mart alone holds every event. Instead the published table's new snapshot *shares*
the physical table's current snapshot: one commit through the REST catalog adds a
snapshot whose manifest list is the physical snapshot's (Iceberg metadata files are
immutable and paths absolute, so two tables may reference the same manifests and data
files), makes it ``main``, and first adds the physical table's schema, field ids
included, when it changed. Publishing is then O(1) whatever the size of the mart, atomic
(readers see the previous or the new mart, never a mix), and a no-op when the physical
table has not changed since the last publication (the snapshot summary records where a
mart was published from).

PyIceberg has no operation that adopts another table's snapshot, so the commit is built
from PyIceberg's own metadata model and update classes and sent with the public
``Catalog.commit_table``. Tables that this cannot share (format v3 row lineage, another
partition spec) are copied instead, with PyIceberg's overwrite.

Files stay where the physical table wrote them: a mart must be dropped without purge (a
purge would delete the physical table's files), and maintenance that deletes files must
treat them as the physical table's.
"""

from __future__ import annotations

import json
import logging
import random
import time
import warnings

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.table.refs import MAIN_BRANCH, SnapshotRefType
from pyiceberg.table.snapshots import Operation, Snapshot, Summary
from pyiceberg.table.update import (
    AddSchemaUpdate,
    AddSnapshotUpdate,
    AssertCurrentSchemaId,
    AssertRefSnapshotId,
    AssertTableUUID,
    RemoveSnapshotRefUpdate,
    SetCurrentSchemaUpdate,
    SetSnapshotRefUpdate,
    TableRequirement,
    TableUpdate,
)

logger = logging.getLogger(__name__)

PUBLISHED_FROM = "commonlake.published-from"  # snapshot summary property: physical table + snapshot id
# The totals of the physical snapshot's summary hold for the published snapshot too.
TOTALS = (
    "total-records",
    "total-data-files",
    "total-delete-files",
    "total-position-deletes",
    "total-equality-deletes",
    "total-files-size",
)
COMMIT_ATTEMPTS = 4


def published_from(table: Table) -> str | None:
    """The marker of the physical snapshot a published table shows (None if never published)."""
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return None
    return snapshot.summary.additional_properties.get(PUBLISHED_FROM)


def _marker(source: Table) -> str:
    snapshot = source.current_snapshot()
    return json.dumps(
        {
            "table": ".".join(source.name()[-2:]),
            "uuid": str(source.metadata.table_uuid),
            "snapshot-id": snapshot.snapshot_id if snapshot else None,
        },
        sort_keys=True,
    )


def _rows(source: Table) -> int:
    snapshot = source.current_snapshot()
    if snapshot is None:
        return 0
    total = (snapshot.summary.additional_properties if snapshot.summary else {}).get("total-records")
    return int(total) if total is not None else source.scan().count()


def publish_table(catalog: Catalog, source: Table, target: tuple[str, str]) -> int | None:
    """Make ``target`` show exactly the current rows of ``source``; its rows, or None when already so."""
    marker = _marker(source)
    for attempt in range(COMMIT_ATTEMPTS):
        try:
            existing = catalog.load_table(target)
        except NoSuchTableError:
            existing = None
        if existing is not None and published_from(existing) == marker:
            return None
        created = existing is None
        if existing is None:
            existing = catalog.create_table(target, schema=source.schema(), partition_spec=source.spec())
        try:
            if _can_share(source, existing):
                changed = _share_snapshot(catalog, source, existing, marker)
            else:
                _copy_rows(catalog, source, existing, target, marker)
                changed = True
        except CommitFailedException:
            # Another publisher won the race; the marker check above decides whether to redo.
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
            continue
        return _rows(source) if changed or created else None
    raise AssertionError("unreachable")


def _can_share(source: Table, target: Table) -> bool:
    """Whether the target can show the source's snapshot as it is (same format and partition specs)."""
    return (
        source.format_version == target.format_version == 2
        and {s.spec_id: s.fields for s in source.metadata.partition_specs}.items()
        <= {s.spec_id: s.fields for s in target.metadata.partition_specs}.items()
    )


def _share_snapshot(catalog: Catalog, source: Table, target: Table, marker: str) -> bool:
    """One commit: the target's ``main`` becomes a snapshot with the source's manifest list; False if no change."""
    source_snapshot = source.current_snapshot()
    current = target.current_snapshot()
    requirements: list[TableRequirement] = [
        AssertTableUUID(uuid=target.metadata.table_uuid),
        AssertRefSnapshotId(ref=MAIN_BRANCH, snapshot_id=current.snapshot_id if current else None),
    ]
    updates: list[TableUpdate] = []
    schema_id = _schema_id(target, source.schema())
    if schema_id is None:
        # The physical table's schema with its own field ids: the shared data files carry them.
        schema_id = max(s.schema_id for s in target.metadata.schemas) + 1
        schema = Schema(
            *source.schema().fields, schema_id=schema_id, identifier_field_ids=source.schema().identifier_field_ids
        )
        requirements.append(AssertCurrentSchemaId(current_schema_id=target.metadata.current_schema_id))
        updates += [AddSchemaUpdate(schema=schema), SetCurrentSchemaUpdate(schema_id=-1)]
    elif schema_id != target.metadata.current_schema_id:
        updates.append(SetCurrentSchemaUpdate(schema_id=schema_id))

    if source_snapshot is None:
        if current is not None:
            updates.append(RemoveSnapshotRefUpdate(ref_name=MAIN_BRANCH))
    else:
        totals = source_snapshot.summary.additional_properties if source_snapshot.summary else {}
        existing_ids = {s.snapshot_id for s in target.metadata.snapshots}
        snapshot_id = _new_snapshot_id(existing_ids)
        snapshot = Snapshot(
            snapshot_id=snapshot_id,
            parent_snapshot_id=current.snapshot_id if current else None,
            # Sequence numbers only order a table's own commits; the shared manifests keep
            # the physical table's, so the published table's stay at or above them.
            sequence_number=max(target.metadata.last_sequence_number + 1, source_snapshot.sequence_number or 0),
            timestamp_ms=int(time.time() * 1000),
            manifest_list=source_snapshot.manifest_list,
            summary=Summary(
                Operation.OVERWRITE,
                **{key: totals[key] for key in TOTALS if key in totals},
                **{PUBLISHED_FROM: marker},
            ),
            schema_id=schema_id,
        )
        updates += [
            AddSnapshotUpdate(snapshot=snapshot),
            SetSnapshotRefUpdate(ref_name=MAIN_BRANCH, type=SnapshotRefType.BRANCH, snapshot_id=snapshot_id),
        ]
    if not updates:
        return False
    catalog.commit_table(target, tuple(requirements), tuple(updates))
    return True


def _schema_id(table: Table, schema: Schema) -> int | None:
    """The id of the table's schema equal to ``schema`` (same fields and field ids), if any."""
    for candidate in table.metadata.schemas:
        if candidate.fields == schema.fields and candidate.identifier_field_ids == schema.identifier_field_ids:
            return candidate.schema_id
    return None


def _new_snapshot_id(taken: set[int]) -> int:
    while True:
        snapshot_id = random.getrandbits(63)
        if snapshot_id and snapshot_id not in taken:
            return snapshot_id


def _copy_rows(catalog: Catalog, source: Table, target: Table, name: tuple[str, str], marker: str) -> None:
    """Overwrite the target with a copy of the source's rows (when a snapshot cannot be shared)."""
    data = source.scan().to_arrow()
    properties = {PUBLISHED_FROM: marker}
    try:
        with target.transaction() as tx, warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Delete operation did not match any records" when empty
            with tx.update_schema() as update:
                update.union_by_name(source.schema())
            tx.overwrite(data, snapshot_properties=properties)
    except ValueError as exc:
        # An incompatible type change cannot evolve in place: recreate the table.
        logger.warning("Recreating %s: %s", ".".join(name), exc)
        catalog.drop_table(name)
        recreated = catalog.create_table(name, schema=source.schema(), partition_spec=source.spec())
        recreated.overwrite(data, snapshot_properties=properties)
