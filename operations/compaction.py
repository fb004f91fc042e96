"""Compacting the small data files of an Iceberg table, partition by partition.

PyIceberg 0.12 has no rewrite-data-files action. This one reads the small files of a
partition (applying their delete files), writes the rows again as target-sized files
with PyIceberg's own writer, and swaps old for new in one snapshot through PyIceberg's
public overwrite producer (``delete_data_file`` + ``append_data_file``). PyIceberg
validates at commit time that every file being replaced still exists, so a concurrent
change makes the compaction fail cleanly instead of losing rows.

Files with delete files (DuckDB writes a positional delete file for every ``DELETE``) are
rewritten with their deletes applied. PyIceberg's overwrite cannot remove the delete
files themselves; they stay listed but apply to nothing: by the spec a delete file only
applies to data files of an older sequence number, and the rewritten ones are newer.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass

from pyiceberg.expressions import AlwaysTrue
from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files
from pyiceberg.table import FileScanTask, Table

COMPACTION_PROPERTY = "commonlake.maintenance"
# Snapshot properties in this namespace describe the table's contents (e.g. which load
# units it holds); a compaction does not change the contents, so they carry over.
CARRIED_PREFIX = "commonlake."


@dataclass
class CompactionResult:
    """What one compaction did to one table."""

    table: str
    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: int = 0
    snapshot_id: int | None = None


def _groups(tasks: list[FileScanTask], small_file_bytes: int, min_input_files: int) -> list[list[FileScanTask]]:
    """Files worth rewriting, grouped by partition.

    Small files, when a partition has at least ``min_input_files`` of them; and every file
    with delete files (of any size, even alone), so deleted rows stop being stored and read.
    """
    by_partition: dict[tuple, list[FileScanTask]] = defaultdict(list)
    for task in tasks:
        data_file = task.file
        if data_file.file_size_in_bytes >= small_file_bytes and not task.delete_files:
            continue
        by_partition[(data_file.spec_id, tuple(data_file.partition))].append(task)
    ordered = sorted(by_partition.items(), key=lambda item: repr(item[0]))
    return [group for _, group in ordered if len(group) >= min_input_files or any(task.delete_files for task in group)]


def compact_table(table: Table, small_file_bytes: int, min_input_files: int = 2) -> CompactionResult:
    """Rewrite each partition's files smaller than ``small_file_bytes`` (when at least ``min_input_files``)."""
    table.refresh()
    result = CompactionResult(".".join(table.name()[-2:]))
    parent = table.current_snapshot()
    if parent is None:
        return result
    groups = _groups(list(table.scan(snapshot_id=parent.snapshot_id).plan_files()), small_file_bytes, min_input_files)
    if not groups:
        return result
    carried = {
        key: value
        for key, value in (parent.summary.additional_properties if parent.summary else {}).items()
        if key.startswith(CARRIED_PREFIX)
    }
    properties = {**carried, COMPACTION_PROPERTY: "compaction"}
    with table.transaction() as tx:
        metadata = tx.table_metadata
        reader = ArrowScan(metadata, table.io, metadata.schema(), AlwaysTrue())
        with tx.update_snapshot(snapshot_properties=properties).overwrite() as rewrite:
            for group in groups:
                rows = reader.to_table(group)
                new_files = list(_dataframe_to_data_files(metadata, rows, table.io, write_uuid=uuid.uuid4()))
                for task in group:
                    rewrite.delete_data_file(task.file)
                for data_file in new_files:
                    rewrite.append_data_file(data_file)
                result.partitions += 1
                result.files_before += len(group)
                result.files_after += len(new_files)
                result.rows += rows.num_rows
    table.refresh()
    snapshot = table.current_snapshot()
    result.snapshot_id = snapshot.snapshot_id if snapshot else None
    return result
