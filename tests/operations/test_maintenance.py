"""Table maintenance on real catalogs, on a file:// warehouse and on S3 (SeaweedFS).

What must hold: compaction keeps the exact rows; after expiry and orphan removal every row
of the current snapshot (and of every retained snapshot) still reads; unreferenced files
are gone; ingestion still loads each hour exactly once (the ledger survives expiry).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.table import Table

from commonlake.seaweedfs import SeaweedFS
from commonlake.settings import Settings
from ingestion.pipelines import load_gharchive
from ingestion.synthetic import SampleManifest, SampleSpec, generate_sample
from operations.orphan_files import referenced_files
from orchestration.maintenance_jobs import table_maintenance
from orchestration.resources import Lakehouse
from tests.conftest import RunningCatalog, make_settings, start_catalog

SPEC = SampleSpec(seed=9, projects=5, days=1, events_per_hour=12, start=date(2025, 9, 2))


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture(params=["file", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RunningCatalog, SampleManifest]]:
    """A catalog whose raw.github_events got one commit (one small file) per hour."""
    settings = make_settings(tmp_path / "lake")
    if request.param == "s3":
        server: SeaweedFS = request.getfixturevalue("seaweed")
        settings = settings.with_updates(**server.settings_changes(f"maintenance-{tmp_path.name}"))
    running = start_catalog(settings)
    try:
        manifest = generate_sample(tmp_path / "sample", SPEC)
        load_gharchive(running.catalog, manifest.start, manifest.end, manifest.gharchive_dir, batch_rows=1)
        yield running, manifest
    finally:
        running.server.stop()


def _rows(table: Table, snapshot_id: int | None = None) -> pa.Table:
    table.refresh()
    return table.scan(snapshot_id=snapshot_id).to_arrow().sort_by([("id", "ascending")])


def _listed(table: Table) -> set[str]:
    from pyarrow import fs as pafs
    from pyiceberg.io.pyarrow import PyArrowFileIO

    scheme, netloc, path = PyArrowFileIO.parse_location(table.location())
    filesystem = table.io.fs_by_scheme(scheme, netloc)
    infos = filesystem.get_file_info(pafs.FileSelector(path, recursive=True))
    return {info.path for info in infos if info.type == pafs.FileType.File}


def _maintenance_cli(settings: Settings, *args: str) -> str:
    env = {**os.environ, **settings.to_env(), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "commonlake", "maintenance", *args, "--table", "raw.github_events"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_maintenance_keeps_every_current_row_and_deletes_only_unreferenced_files(
    lake: tuple[RunningCatalog, SampleManifest],
) -> None:
    running, manifest = lake
    catalog, settings = running.catalog, running.settings
    table = catalog.load_table("raw.github_events")
    before = _rows(table)
    files_before = len(list(table.scan().plan_files()))
    assert before.num_rows > 0 and files_before >= 20, "one small file per hour to compact"

    # A file no snapshot references (an abandoned write) under the table's data directory.
    orphan = f"{table.location()}/data/abandoned-write.parquet"
    with table.io.new_output(orphan).create(overwrite=True) as out:
        out.write(b"not referenced by anything")

    dry = _maintenance_cli(settings, "remove-orphan-files", "--dry-run")
    assert "too young" in dry and table.io.new_input(orphan).exists(), "the default grace period protects young files"

    compacted = _maintenance_cli(settings, "compact", "--target-file-bytes", "10000000", "--min-input-files", "2")
    assert f"{files_before} files → 1" in compacted
    assert _rows(table).equals(before), "compaction keeps the exact rows"
    assert len(list(table.scan().plan_files())) == 1

    _maintenance_cli(settings, "expire-snapshots", "--older-than-hours", "0", "--retain-last", "1")
    table.refresh()
    main = [s for s in table.metadata.snapshots if s.snapshot_id == table.current_snapshot().snapshot_id]
    assert len(main) == 1 and len(table.metadata.snapshots) == 2, "the current snapshot and the ledger remain"

    listed_before = _listed(table)
    _maintenance_cli(settings, "remove-orphan-files", "--older-than-hours", "0")
    table.refresh()
    listed_after = _listed(table)
    assert not table.io.new_input(orphan).exists()
    assert listed_after == referenced_files(table) & listed_before, "exactly the referenced files remain"
    assert len(listed_after) < len(listed_before)
    for task in table.scan().plan_files():
        assert table.io.new_input(task.file.file_path).exists()
    assert _rows(table).equals(before), "every current row still reads"

    # The ingestion ledger survived expiry: the same hours are not loaded a second time.
    again = load_gharchive(catalog, manifest.start, manifest.end, manifest.gharchive_dir)
    assert (again.units_loaded, again.units_skipped) == (0, 24)
    forced = load_gharchive(catalog, manifest.start, manifest.start, manifest.gharchive_dir, force=True)
    assert forced.units_loaded == 1
    assert _rows(table).equals(before), "a forced reload replaces its hour, it does not duplicate it"


def test_the_dagster_maintenance_job_keeps_retained_snapshots_readable(
    lake: tuple[RunningCatalog, SampleManifest],
) -> None:
    running, _ = lake
    settings = running.settings.with_updates(
        maintenance={
            "snapshot_max_age_hours": 0,
            "retain_last_snapshots": 3,
            "orphan_min_age_hours": 0,
            "compaction_target_file_bytes": 10_000_000,
            "compaction_min_input_files": 2,
        }
    )
    table = running.catalog.load_table("raw.github_events")
    before = _rows(table)
    result = table_maintenance.execute_in_process(resources={"lakehouse": Lakehouse(settings)})
    assert result.success
    table.refresh()
    assert len(list(table.scan().plan_files())) == 1
    assert len(table.metadata.snapshots) == 4, "three retained snapshots and the ledger"
    for snapshot in table.metadata.snapshots:
        if snapshot.snapshot_id == table.metadata.refs["commonlake-ledger"].snapshot_id:
            continue
        rows = _rows(table, snapshot.snapshot_id)
        assert rows.num_rows > 0, "every retained snapshot still reads: none of its files was deleted"
    assert _rows(table).equals(before)
