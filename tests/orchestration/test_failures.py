"""A source that fails stops the run clearly, and nothing downstream runs on partial data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg

from commonlake.servers import free_port
from ingestion.synthetic import SampleSpec, generate_sample
from orchestration.definitions import PIPELINE_JOB, build_definitions
from orchestration.model_graph import ModelNode
from tests.conftest import make_settings, start_catalog

SPEC = SampleSpec(seed=4, projects=3, days=1, events_per_hour=5, start=date(2025, 9, 1))
RANGE = {
    "dagster/asset_partition_range_start": "2025-09-01-00:00",
    "dagster/asset_partition_range_end": "2025-09-01-03:00",
}


def _run_pipeline(source: str, ossd: Path, data_dir: Path, nodes: list[ModelNode]):
    settings = make_settings(data_dir).with_updates(
        orchestration={"gharchive_source": source, "ossd_source": str(ossd), "gharchive_start": "2025-09-01-00:00"},
        models={"start": "2025-09-01"},
    )
    running = start_catalog(settings)
    try:
        job = build_definitions(settings, nodes).resolve_job_def(PIPELINE_JOB)
        result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), tags=RANGE, raise_on_error=False)
        catalog = running.catalog
        tables = {".".join(i) for ns in catalog.list_namespaces() for i in catalog.list_tables(ns)}
        units: set[str] = set()
        if "raw.github_events" in tables:
            loaded = catalog.load_table("raw.github_events").scan(selected_fields=("_source_unit",)).to_arrow()
            units = set(loaded["_source_unit"].to_pylist())
        return result, tables, units
    finally:
        running.server.stop()


def _step_events(result, kind: str) -> set[str]:
    return {event.step_key for event in result.all_events if event.event_type_value == kind}


def _materialized_groups(result) -> set[str]:
    return {event.asset_key.path[0] for event in result.get_asset_materialization_events()}


def test_an_unreachable_source_fails_clearly_and_nothing_downstream_runs(
    model_nodes: list[ModelNode], tmp_path: Path
) -> None:
    manifest = generate_sample(tmp_path / "sample", SPEC)
    result, tables, _ = _run_pipeline(
        f"http://127.0.0.1:{free_port()}", manifest.ossd_dir, tmp_path / "lake", model_nodes
    )

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert failure.step_key == "raw__github_events"
    assert "unreachable" in failure.step_failure_data.user_failure_data.description
    assert _step_events(result, "STEP_START") == {"raw__github_events", "raw_ossd"}, "nothing downstream started"
    assert _materialized_groups(result) == {"raw"}
    assert not any(t.startswith(("marts.", "sqlmesh__")) for t in tables), tables


def test_a_missing_hour_fails_the_range_and_blocks_downstream(model_nodes: list[ModelNode], tmp_path: Path) -> None:
    manifest = generate_sample(tmp_path / "sample", SPEC)
    (manifest.gharchive_dir / "2025-09-01-2.json.gz").unlink()
    result, tables, units = _run_pipeline(
        str(manifest.gharchive_dir), manifest.ossd_dir, tmp_path / "lake", model_nodes
    )

    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert failure.step_key == "raw__github_events" and "2025-09-01-2: not at the source" in description
    assert _step_events(result, "STEP_START") == {"raw__github_events", "raw_ossd"}, "nothing downstream started"
    assert _materialized_groups(result) == {"raw"}
    assert not any(t.startswith(("marts.", "sqlmesh__")) for t in tables)
    # The hours that exist were loaded (each atomically) and will be skipped by the retry.
    assert units <= {"2025-09-01-0", "2025-09-01-1", "2025-09-01-3"}
