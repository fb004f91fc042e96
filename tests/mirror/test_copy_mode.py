"""Copy mode between two nodes with separate warehouses: same answers, incremental, never half-committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.exceptions import ForbiddenError
from pyiceberg.types import StringType

from ingestion.pipelines import load_gharchive, load_ossd
from ingestion.synthetic import SampleManifest
from mirror import MirrorError, add_mirror, refresh_mirror
from mirror import properties as p
from tests.mirror.conftest import Node, events_batch, make_events_table, rows_of, table_files, unique


def path_of(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def referenced_files(table) -> set[str]:
    """Every manifest list, manifest and live data file the table's snapshots name."""
    files: set[str] = set()
    for snapshot in table.metadata.snapshots:
        files.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(table.io):
            files.add(manifest.manifest_path)
            files.update(e.data_file.file_path for e in manifest.fetch_manifest_entry(table.io))
    return files


def data_files(table) -> set[str]:
    """Live data files of the current snapshot, relative to the table location."""
    snapshot = table.current_snapshot()
    if snapshot is None:
        return set()
    return {
        e.data_file.file_path.removeprefix(table.location())
        for m in snapshot.manifests(table.io)
        for e in m.fetch_manifest_entry(table.io)
    }


def outcome_of(report, table: str):
    [found] = [o for o in report.outcomes if o.table == table]
    return found


def load_days(node: Node, sample: SampleManifest, namespace: str, first: int, last: int) -> None:
    """GH Archive hours of days ``first``..``last`` of the sample into ``namespace.github_events``."""
    start = sample.start + timedelta(days=first)
    end = sample.start + timedelta(days=last + 1) - timedelta(hours=1)
    load_gharchive(node.catalog, start, end, sample.gharchive_dir, batch_rows=300, namespace=namespace)


def test_copy_mirror_answers_like_the_source_and_records_provenance(
    source: Node, replica: Node, gharchive_sample: SampleManifest
) -> None:
    raw, marts, name = unique("raw"), unique("marts"), unique("m")
    load_ossd(source.catalog, gharchive_sample.ossd_dir, namespace=raw)
    load_days(source, gharchive_sample, raw, 0, 1)
    # A mart with an overwrite (deleted manifest entries) and a schema change, and an empty table.
    events = source.catalog.load_table((raw, "github_events")).scan().to_arrow()
    daily = (
        events.append_column("day", pc.strftime(events["created_at"], "%Y-%m-%d"))
        .group_by(["day", "type"])
        .aggregate([("id", "count")])
        .rename_columns(["day", "type", "events"])
    )
    source.catalog.create_namespace(marts)
    mart = source.catalog.create_table((marts, "events_daily"), schema=daily.schema)
    mart.append(daily.slice(0, 5))
    mart.overwrite(daily)
    with mart.update_schema() as update:
        update.add_column("note", StringType())
    source.catalog.create_table((marts, "empty"), schema=daily.schema)

    add_mirror(replica.settings, name, source.uri, f"{raw},{marts}", "copy")
    report = refresh_mirror(replica.settings, name)
    assert report.ok, report.outcomes
    expected_tables = {f"{name}.{ns}.{t}" for ns in (raw, marts) for (_, t) in source.catalog.list_tables(ns)}
    assert {o.table for o in report.outcomes} == expected_tables
    assert {o.action for o in report.outcomes} == {"created"}

    src_db, dst_db = source.duckdb(), replica.duckdb()
    for ns in (raw, marts):
        for _, table_name in source.catalog.list_tables(ns):
            remote = source.catalog.load_table((ns, table_name))
            local = replica.catalog.load_table((name, ns, table_name))
            # Identical answers from DuckDB on each node's own catalog.
            theirs = rows_of(src_db, f"SELECT * FROM ice.{ns}.{table_name}")
            ours = rows_of(dst_db, f'SELECT * FROM ice."{name}.{ns}".{table_name}')
            assert ours == theirs, f"{ns}.{table_name} differs"
            # Same snapshots and schema; provenance on the table; a table of its own.
            assert [s.snapshot_id for s in local.metadata.snapshots] == (
                [remote.current_snapshot().snapshot_id] if remote.current_snapshot() else []
            )
            assert local.schema() == remote.schema()
            props = local.properties
            assert props[p.SOURCE_NODE] == source.uri
            assert props[p.SOURCE_TABLE] == f"{ns}.{table_name}"
            assert props[p.SOURCE_TABLE_UUID] == str(remote.metadata.table_uuid)
            assert props.get(p.SOURCE_SNAPSHOT_ID) == (
                str(remote.current_snapshot().snapshot_id) if remote.current_snapshot() else None
            )
            assert props[p.READ_ONLY] == "true"
            assert local.metadata.table_uuid != remote.metadata.table_uuid
            # Every file it names is a copy in this node's warehouse.
            for path in referenced_files(local):
                assert path.startswith(replica.settings.warehouse_location + "/"), path
                assert path_of(path).exists(), path
    aggregate = (
        "SELECT type, COUNT(*), COUNT(DISTINCT actor.login), MIN(created_at), MAX(created_at) FROM {} GROUP BY 1"
    )
    assert rows_of(dst_db, aggregate.format(f'ice."{name}.{raw}".github_events')) == rows_of(
        src_db, aggregate.format(f"ice.{raw}.github_events")
    )


def test_incremental_refresh_copies_only_the_new_files(
    source: Node, replica: Node, gharchive_sample: SampleManifest
) -> None:
    raw, name = unique("raw"), unique("m")
    load_days(source, gharchive_sample, raw, 0, 1)
    add_mirror(replica.settings, name, source.uri, raw, "copy")
    first = refresh_mirror(replica.settings, name)
    assert first.ok
    remote_before = source.catalog.load_table((raw, "github_events"))
    local_dir = path_of(replica.catalog.load_table((name, raw, "github_events")).location())
    files_before = table_files(local_dir)

    load_days(source, gharchive_sample, raw, 2, 2)  # one new day at the source
    remote_after = source.catalog.load_table((raw, "github_events"))
    new_data = data_files(remote_after) - data_files(remote_before)
    assert new_data, "the new day added data files"
    report = refresh_mirror(replica.settings, name)
    outcome = outcome_of(report, f"{name}.{raw}.github_events")
    assert outcome.action == "updated" and outcome.new_snapshots == 1
    assert outcome.stats.files_copied == len(new_data)
    assert outcome.stats.bytes_copied == sum(path_of(remote_after.location() + rel).stat().st_size for rel in new_data)
    added = {f.relative_to(local_dir).as_posix() for f in table_files(local_dir) - files_before}
    assert {"/" + f for f in added if f.endswith(".parquet")} == new_data
    new_manifests = [
        m
        for m in remote_after.current_snapshot().manifests(remote_after.io)
        if m.added_snapshot_id not in {s.snapshot_id for s in remote_before.metadata.snapshots}
    ]
    assert len([f for f in added if f.endswith(".avro") and not f.rsplit("/", 1)[-1].startswith("snap-")]) == len(
        new_manifests
    )
    assert len([f for f in added if f.rsplit("/", 1)[-1].startswith("snap-")]) == 1  # one manifest list
    assert len([f for f in added if f.endswith(".metadata.json")]) == 1
    assert len(added) == len(new_data) + len(new_manifests) + 2, sorted(added)
    assert rows_of(replica.duckdb(), f'SELECT id, type FROM ice."{name}.{raw}".github_events') == rows_of(
        source.duckdb(), f"SELECT id, type FROM ice.{raw}.github_events"
    )
    again = refresh_mirror(replica.settings, name)
    assert {o.action for o in again.outcomes} == {"up-to-date"} and again.stats.files_copied == 0


@pytest.mark.parametrize(
    "damage", ["truncated data file", "garbage data file", "missing data file", "missing manifest"]
)
def test_a_damaged_source_file_fails_the_refresh_clearly_and_commits_nothing(
    source: Node, replica: Node, damage: str
) -> None:
    ns, name = unique("marts"), unique("m")
    table = make_events_table(source.catalog, ns, days=2)
    add_mirror(replica.settings, name, source.uri, ns, "copy")
    assert refresh_mirror(replica.settings, name).ok
    local_before = replica.catalog.load_table((name, ns, "events"))
    rows_before = rows_of(replica.duckdb(), f'SELECT * FROM ice."{name}.{ns}".events')

    table.append(events_batch(2, 50))
    table = source.catalog.load_table((ns, "events"))
    snapshot = table.current_snapshot()
    [manifest] = [m for m in snapshot.manifests(table.io) if m.added_snapshot_id == snapshot.snapshot_id]
    [entry] = manifest.fetch_manifest_entry(table.io)
    victim = path_of(manifest.manifest_path if damage == "missing manifest" else entry.data_file.file_path)
    if damage == "truncated data file":
        victim.write_bytes(victim.read_bytes()[:-100])
    elif damage == "garbage data file":
        victim.write_bytes(os.urandom(victim.stat().st_size))
    else:
        victim.unlink()

    report = refresh_mirror(replica.settings, name)
    outcome = outcome_of(report, f"{name}.{ns}.events")
    assert not report.ok and outcome.action == "failed"
    assert victim.name in outcome.message
    expected = {
        "truncated data file": "bytes but its manifest declares",
        "garbage data file": "not a readable Parquet file",
        "missing data file": "is missing",
        "missing manifest": "is missing",
    }[damage]
    assert expected in outcome.message
    # Nothing committed: same metadata file, same rows, and the failure is on record.
    local_after = replica.catalog.load_table((name, ns, "events"))
    assert local_after.metadata_location == local_before.metadata_location
    assert rows_of(replica.duckdb(), f'SELECT * FROM ice."{name}.{ns}".events') == rows_before
    last = replica.catalog.load_namespace_properties((name,))[p.LAST_REFRESH]
    assert '"ok": false' in last and victim.name in last


def test_an_interrupted_copy_leaves_the_previous_snapshot_and_the_next_run_resumes(source: Node, replica: Node) -> None:
    ns, name = unique("marts"), unique("m")
    table = make_events_table(source.catalog, ns, days=1)
    add_mirror(replica.settings, name, source.uri, ns, "copy")
    assert refresh_mirror(replica.settings, name).ok
    before = replica.catalog.load_table((name, ns, "events"))
    for day in range(1, 13):
        table.append(events_batch(day, 40))

    copied: list[str] = []

    def interrupt_after_five(item) -> None:
        copied.append(item.target)
        if len(copied) == 5:
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of a copy

    with pytest.raises(KeyboardInterrupt):
        refresh_mirror(replica.settings, name, on_file=interrupt_after_five)
    after = replica.catalog.load_table((name, ns, "events"))
    assert after.metadata_location == before.metadata_location
    assert after.current_snapshot().snapshot_id == before.current_snapshot().snapshot_id
    assert replica.duckdb().execute(f'SELECT COUNT(*) FROM ice."{name}.{ns}".events').fetchone()[0] == 50

    resumed = refresh_mirror(replica.settings, name)
    outcome = outcome_of(resumed, f"{name}.{ns}.events")
    assert outcome.action == "updated"
    assert outcome.stats.files_reused >= 4, "files copied before the interruption are verified and reused"
    assert outcome.stats.files_copied + outcome.stats.files_reused == 12
    assert replica.duckdb().execute(f'SELECT COUNT(*) FROM ice."{name}.{ns}".events').fetchone()[0] == 50 + 12 * 40


def test_a_killed_refresh_process_leaves_the_previous_snapshot(source: Node, replica: Node) -> None:
    ns, name = unique("raw"), unique("m")
    table = make_events_table(source.catalog, ns, days=1)
    add_mirror(replica.settings, name, source.uri, ns, "copy")
    assert refresh_mirror(replica.settings, name).ok
    before = replica.catalog.load_table((name, ns, "events"))
    big = pa.concat_tables([events_batch(d, 3000, seed=s) for s in range(3) for d in range(1, 61)])
    table.append(big)  # 60 day partitions: 60 new data files
    local_data = path_of(before.location()) / "data"
    files_before = len(table_files(local_data))

    env = {
        **os.environ,
        **replica.settings.with_updates(mirror={"copy_workers": 1}).to_env(),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "commonlake", "mirror", "refresh", name],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(table_files(local_data)) <= files_before + 2:
            assert process.poll() is None, "the refresh finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    partial = len(table_files(local_data)) - files_before
    assert 0 < partial < 60, "killed in the middle of the copy"
    after = replica.catalog.load_table((name, ns, "events"))
    assert after.metadata_location == before.metadata_location
    assert replica.duckdb().execute(f'SELECT COUNT(*) FROM ice."{name}.{ns}".events').fetchone()[0] == 50

    resumed = refresh_mirror(replica.settings, name)
    assert resumed.ok
    assert replica.duckdb().execute(f'SELECT COUNT(*) FROM ice."{name}.{ns}".events').fetchone()[0] == 50 + big.num_rows


def test_local_writes_to_a_copied_table_are_refused(source: Node, replica: Node) -> None:
    ns, name = unique("marts"), unique("m")
    make_events_table(source.catalog, ns, days=1)
    add_mirror(replica.settings, name, source.uri, ns, "copy")
    assert refresh_mirror(replica.settings, name).ok
    local = replica.catalog.load_table((name, ns, "events"))
    with pytest.raises(ForbiddenError, match="read-only"):
        local.append(events_batch(5, 3))
    with pytest.raises(ForbiddenError, match="read-only"), local.transaction() as tx:
        tx.set_properties({p.READ_ONLY: "false"})
    with pytest.raises(duckdb.Error, match=r"(?i)forbidden|read-only|403"):
        replica.duckdb().execute(f'INSERT INTO ice."{name}.{ns}".events SELECT * FROM ice."{name}.{ns}".events')
    assert replica.catalog.load_table((name, ns, "events")).metadata_location == local.metadata_location


def test_a_rename_on_the_remote_is_followed_and_a_drop_is_reported_not_applied(source: Node, replica: Node) -> None:
    ns, name = unique("marts"), unique("m")
    table = make_events_table(source.catalog, ns, "events", days=1)
    make_events_table(source.catalog, ns, "doomed", days=1)
    add_mirror(replica.settings, name, source.uri, ns, "copy")
    assert refresh_mirror(replica.settings, name).ok
    uuid_before = replica.catalog.load_table((name, ns, "events")).metadata.table_uuid

    source.catalog.rename_table((ns, "events"), (ns, "events_v2"))
    table = source.catalog.load_table((ns, "events_v2"))
    table.append(events_batch(1, 10))
    source.catalog.drop_table((ns, "doomed"))
    report = refresh_mirror(replica.settings, name)
    assert outcome_of(report, f"{name}.{ns}.events_v2").action == "renamed"
    dropped = outcome_of(report, f"{name}.{ns}.doomed")
    assert dropped.action == "source-dropped" and "gone from the remote" in dropped.message
    assert report.ok, "a remote drop is reported, it is not a failure"

    renamed = replica.catalog.load_table((name, ns, "events_v2"))
    assert renamed.metadata.table_uuid == uuid_before, "same local table, followed by the remote table's UUID"
    assert renamed.properties[p.SOURCE_TABLE] == f"{ns}.events_v2"
    assert not replica.catalog.table_exists((name, ns, "events"))
    assert replica.duckdb().execute(f'SELECT COUNT(*) FROM ice."{name}.{ns}".events_v2').fetchone()[0] == 60
    kept = replica.catalog.load_table((name, ns, "doomed"))
    assert kept.properties[p.SOURCE_DROPPED_AT]
    assert replica.duckdb().execute(f'SELECT COUNT(*) FROM ice."{name}.{ns}".doomed').fetchone()[0] == 50

    # A new remote table under the dropped one's name is a different table: reported, not mixed in.
    make_events_table(source.catalog, ns, "doomed", days=2)
    report = refresh_mirror(replica.settings, name)
    doomed = {o.action: o for o in report.outcomes if o.table == f"{name}.{ns}.doomed"}
    assert set(doomed) == {"conflict", "source-dropped"} and not report.ok
    assert "replaced" in doomed["conflict"].message and "drop the local table" in doomed["conflict"].message
    assert replica.catalog.load_table((name, ns, "doomed")).metadata_location == kept.metadata_location


def test_position_deletes_written_by_duckdb_are_mirrored(source: Node, replica: Node) -> None:
    ns, name = unique("marts"), unique("m")
    make_events_table(source.catalog, ns, days=2)
    source.duckdb().execute(f"DELETE FROM ice.{ns}.events WHERE kind = 'star'")
    table = source.catalog.load_table((ns, "events"))
    assert any(m.content.value == 1 for m in table.current_snapshot().manifests(table.io)), "DuckDB wrote deletes"
    add_mirror(replica.settings, name, source.uri, ns, "copy")
    assert refresh_mirror(replica.settings, name).ok
    ours = rows_of(replica.duckdb(), f'SELECT * FROM ice."{name}.{ns}".events')
    assert ours == rows_of(source.duckdb(), f"SELECT * FROM ice.{ns}.events")
    assert len(ours) == 100 - sum(
        1 for day in range(2) for r in events_batch(day, 50).to_pylist() if r["kind"] == "star"
    )
    assert all(r[1] != "star" for r in ours)
    local = replica.catalog.load_table((name, ns, "events"))
    assert replica.settings.warehouse_location in str(referenced_files(local))
    assert local.scan().to_arrow().num_rows == len(ours), "PyIceberg applies the rewritten deletes too"


def test_the_mirror_keeps_serving_when_the_source_node_is_gone(tmp_path: Path, replica: Node) -> None:
    from tests.mirror.conftest import start_node

    origin = start_node(tmp_path / "origin")
    ns, name = unique("marts"), unique("m")
    try:
        make_events_table(origin.catalog, ns, days=3)
        add_mirror(replica.settings, name, origin.uri, ns, "copy")
        assert refresh_mirror(replica.settings, name).ok
        expected = rows_of(origin.duckdb(), f"SELECT kind, COUNT(*), SUM(amount) FROM ice.{ns}.events GROUP BY 1")
    finally:
        origin.stop()
    (tmp_path / "origin").rename(tmp_path / "origin-gone")  # its files are gone too

    assert (
        rows_of(replica.duckdb(), f'SELECT kind, COUNT(*), SUM(amount) FROM ice."{name}.{ns}".events GROUP BY 1')
        == expected
    )
    with pytest.raises(MirrorError, match="unreachable"):
        refresh_mirror(replica.settings, name)
    assert replica.catalog.load_table((name, ns, "events")).scan().to_arrow().num_rows == 150
