"""A load that dies mid-unit leaves no half unit behind, and the next run resumes where it stopped."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from ingestion.pipelines import load_gharchive
from ingestion.synthetic import SampleSpec, generate_sample
from tests.conftest import RunningCatalog
from tests.ingestion.conftest import rows

SPEC = SampleSpec(seed=21, projects=6, days=1, events_per_hour=60, start=date(2025, 9, 3))

# Loads hour by hour (one commit per hour) and kills itself (SIGKILL, no cleanup of any kind)
# after the data files of the third hour are written and before that commit is sent.
CRASHING_LOADER = """
import json, os, signal, sys
from datetime import datetime
from pyiceberg.catalog import load_catalog
from ingestion.pipelines import load_gharchive

props, start, end, source, namespace, crash_unit = json.loads(sys.argv[1])

def die_before_commit(table, units):
    if crash_unit in units:
        print("files written, dying before the commit", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

load_gharchive(
    load_catalog("crash", **props), datetime.fromisoformat(start), datetime.fromisoformat(end), source,
    batch_rows=1, before_commit=die_before_commit, namespace=namespace,
)
"""


def committed_units(running: RunningCatalog, ns: str) -> set[str]:
    table = running.catalog.load_table((ns, "github_events"))
    return {u for s in table.snapshots() for u in json.loads(s.summary.additional_properties["commonlake.units"])}


def test_killed_mid_unit_leaves_whole_units_and_the_next_run_resumes(
    module_catalog: RunningCatalog, ns: str, tmp_path: Path
) -> None:
    manifest = generate_sample(tmp_path, SPEC)
    events_per_unit = {
        path.name.removesuffix(".json.gz"): len(gzip.decompress(path.read_bytes()).splitlines())
        for path in manifest.files
    }
    units = [p.name.removesuffix(".json.gz") for p in manifest.files]
    crash_unit = units[2]
    args = [
        module_catalog.settings.rest_catalog_properties(),
        manifest.start.isoformat(),
        manifest.end.isoformat(),
        str(manifest.gharchive_dir),
        ns,
        crash_unit,
    ]
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_LOADER, json.dumps(args)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == -9, done.stderr  # killed, not a clean exit
    assert "dying before the commit" in done.stdout

    # Exactly the two hours before the crash are there, whole.
    assert committed_units(module_catalog, ns) == set(units[:2])
    loaded = Counter(r["_source_unit"] for r in rows(module_catalog.catalog, ns, "github_events"))
    assert loaded == {u: events_per_unit[u] for u in units[:2]}

    # The next run skips what is committed and loads the rest, the crashed hour included.
    resumed = load_gharchive(module_catalog.catalog, manifest.start, manifest.end, manifest.gharchive_dir, namespace=ns)
    assert (resumed.units_skipped, resumed.units_loaded) == (2, len(units) - 2)
    final = rows(module_catalog.catalog, ns, "github_events")
    assert len(final) == manifest.events == sum(events_per_unit.values())
    assert len({r["id"] for r in final}) == len(final)
    assert Counter(r["_source_unit"] for r in final) == events_per_unit


def test_an_error_between_writing_and_committing_changes_nothing(
    module_catalog: RunningCatalog, ns: str, tmp_path: Path
) -> None:
    manifest = generate_sample(tmp_path, SampleSpec(**{**SPEC.__dict__, "seed": 22}))
    catalog = module_catalog.catalog
    load_gharchive(catalog, manifest.start, manifest.start, manifest.gharchive_dir, namespace=ns)
    before = catalog.load_table((ns, "github_events")).current_snapshot()

    def fail(table: str, units: object) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        load_gharchive(
            catalog, manifest.start, manifest.end, manifest.gharchive_dir, force=True, before_commit=fail, namespace=ns
        )
    table = catalog.load_table((ns, "github_events"))
    assert table.current_snapshot().snapshot_id == before.snapshot_id
    resumed = load_gharchive(catalog, manifest.start, manifest.end, manifest.gharchive_dir, namespace=ns)
    assert resumed.units_skipped == 1 and resumed.units_loaded == 23
    assert len(rows(catalog, ns, "github_events")) == manifest.events
