"""The whole asset graph, materialized in-process through Dagster on demo data.

The catalog database is a fresh PostgreSQL database when the local server runs (the demo
path in PostgreSQL mode; SQLite otherwise), the marts are mirrored into the real BigQuery
emulator, and the gateway answers over the published marts. The graph is materialized
once for the module; the tests then read what it made.
"""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import httpx
import psycopg2
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog

from commonlake.servers import ServerProcess
from commonlake.settings import Settings
from ingestion.synthetic import SampleManifest, SampleSpec, generate_sample
from orchestration.definitions import GHARCHIVE_JOB, PIPELINE_JOB, build_definitions
from orchestration.model_graph import ModelNode
from tests.conftest import RunningCatalog, make_settings, start_catalog
from tests.operations.bigquery_emulator import PROJECT, BigQueryEmulator, start_emulator

SPEC = SampleSpec(seed=21, projects=6, days=1, events_per_hour=20, start=date(2025, 9, 1))
RANGE = {
    "dagster/asset_partition_range_start": "2025-09-01-00:00",
    "dagster/asset_partition_range_end": "2025-09-01-23:00",
}
PG_ADMIN = "dbname=postgres user=postgres host=127.0.0.1 port=5432"
DATASET = "oso"


@dataclass
class Pipeline:
    """What the module's one materialization made."""

    settings: Settings
    catalog: Catalog
    definitions: dg.Definitions
    result: dg.ExecuteInProcessResult
    instance: dg.DagsterInstance
    manifest: SampleManifest
    nodes: list[ModelNode]
    postgres_db: str | None
    bigquery: BigQueryEmulator | None


@pytest.fixture(scope="module")
def postgres_db() -> Iterator[str | None]:
    """A fresh PostgreSQL database for the catalog (None when no server runs), dropped afterwards."""
    try:
        admin = psycopg2.connect(PG_ADMIN, connect_timeout=3)
    except psycopg2.OperationalError:
        yield None
        return
    admin.autocommit = True
    name = f"commonlake_pipeline_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(scope="module")
def bigquery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryEmulator | None]:
    try:
        emulator = start_emulator(tmp_path_factory.mktemp("bqemulator"))
    except pytest.skip.Exception:
        yield None  # the BigQuery test skips; the rest of the pipeline is still tested
        return
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def pipeline(
    tmp_path_factory: pytest.TempPathFactory,
    model_nodes: list[ModelNode],
    postgres_db: str | None,
    bigquery: BigQueryEmulator | None,
) -> Iterator[Pipeline]:
    root = tmp_path_factory.mktemp("pipeline")
    manifest = generate_sample(root / "sample", SPEC)
    settings = make_settings(root / "lake").with_updates(
        orchestration={
            "gharchive_source": str(manifest.gharchive_dir),
            "ossd_source": str(manifest.ossd_dir),
            "gharchive_start": "2025-09-01-00:00",
        },
        models={"start": SPEC.start.isoformat()},
    )
    if postgres_db:
        settings = settings.with_updates(
            catalog={"database_url": f"postgresql+psycopg2://postgres@127.0.0.1:5432/{postgres_db}"}
        )
    if bigquery:
        settings = settings.with_updates(export=bigquery.export_settings(DATASET).model_dump())
        from google.cloud import bigquery as bq

        bigquery.client().create_dataset(bq.Dataset(f"{PROJECT}.{DATASET}"))
    running: RunningCatalog = start_catalog(settings)
    try:
        definitions = build_definitions(settings, model_nodes)
        with dg.DagsterInstance.ephemeral() as instance:
            result = definitions.resolve_job_def(PIPELINE_JOB).execute_in_process(
                instance=instance, tags=RANGE, raise_on_error=False
            )
            yield Pipeline(
                settings, running.catalog, definitions, result, instance, manifest, model_nodes, postgres_db, bigquery
            )
    finally:
        running.server.stop()


def _sample_event_ids(manifest: SampleManifest) -> set[str]:
    ids: set[str] = set()
    for path in manifest.files:
        with gzip.open(path, "rt") as lines:
            ids.update(json.loads(line)["id"] for line in lines if line.strip())
    return ids


def _row_order(row: dict) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def _sorted(table: pa.Table) -> pa.Table:
    flat = [name for name in table.column_names if not pa.types.is_nested(table.schema.field(name).type)]
    return table.sort_by([(name, "ascending") for name in flat])


def test_the_whole_graph_materializes_and_the_marts_hold_the_models_rows(pipeline: Pipeline) -> None:
    result = pipeline.result
    assert result.success, [e.message for e in result.all_events if e.is_step_failure]
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == pipeline.definitions.resolve_asset_graph().get_all_asset_keys()
    hours = [
        e.partition for e in result.get_asset_materialization_events() if e.asset_key.path == ["raw", "github_events"]
    ]
    assert len(set(hours)) == 24, "every hour partition of the range is materialized"
    checks = result.get_asset_check_evaluations()
    assert len(checks) == sum(len(node.audits) for node in pipeline.nodes) and all(c.passed for c in checks)

    catalog = pipeline.catalog
    raw = catalog.load_table("raw.github_events").scan().to_arrow()
    assert raw.num_rows == len(_sample_event_ids(pipeline.manifest)), "every sample event, once"
    assert catalog.load_table("marts.projects_v1").scan().to_arrow().num_rows == SPEC.projects

    # Each published mart holds exactly the rows of SQLMesh's physical table.
    materializations = {e.asset_key: e.materialization for e in result.get_asset_materialization_events()}
    for node in pipeline.nodes:
        if node.schema != "marts":
            continue
        physical = materializations[node.key].metadata["physical_table"].value
        published = catalog.load_table(f"marts.{node.name.split('.')[1]}").scan().to_arrow()
        source = catalog.load_table(physical).scan().to_arrow()
        assert _sorted(published).equals(_sorted(source.select(published.column_names))), node.name
    events = catalog.load_table("marts.events_daily_to_project").scan().to_arrow()
    assert events.num_rows > 0 and pa.compute.sum(events["event_count"]).as_py() > 0


def test_the_gateway_answers_over_the_published_marts(pipeline: Pipeline, tmp_path: Path) -> None:
    settings = pipeline.settings
    gateway = ServerProcess("gateway", settings, settings.gateway.host, settings.gateway.port, tmp_path / "gw.log")
    with gateway:
        answer = httpx.post(
            f"{gateway.url}/v1/sql", json={"query": "SELECT COUNT(*) AS n FROM marts.projects_v1"}, timeout=60
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == [[SPEC.projects]]


def test_the_catalog_state_lives_in_postgresql(pipeline: Pipeline) -> None:
    if pipeline.postgres_db is None:
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432: the pipeline ran on SQLite")
    connection = psycopg2.connect(f"dbname={pipeline.postgres_db} user=postgres host=127.0.0.1")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT namespace, name FROM commonlake_objects WHERE kind = 'table'")
            tables = {f"{namespace}.{name}" for namespace, name in cursor.fetchall()}
    finally:
        connection.close()
    assert {"raw.github_events", "marts.projects_v1", "marts.events_daily_to_project"} <= tables


def test_the_bigquery_mirror_holds_the_same_rows(pipeline: Pipeline) -> None:
    if pipeline.bigquery is None:
        pytest.skip("the BigQuery emulator is not available (see tests/operations/bigquery_emulator.py)")
    client = pipeline.bigquery.client()
    marts = [node.name.split(".")[1] for node in pipeline.nodes if node.schema == "marts"]
    for name in marts:
        iceberg = pipeline.catalog.load_table(f"marts.{name}").scan().to_arrow()
        mirrored = client.get_table(f"{PROJECT}.{DATASET}.{name}")
        assert mirrored.num_rows == iceberg.num_rows, name
    for name in ("projects_v1", "events_daily_to_project"):
        iceberg = pipeline.catalog.load_table(f"marts.{name}").scan().to_arrow().to_pylist()
        rows = [dict(row) for row in client.list_rows(f"{PROJECT}.{DATASET}.{name}")]
        assert sorted(rows, key=_row_order) == sorted(iceberg, key=_row_order), name


def test_rematerializing_a_partition_does_not_duplicate_rows(pipeline: Pipeline) -> None:
    table = pipeline.catalog.load_table("raw.github_events")
    before = table.scan().to_arrow().sort_by("id")
    job = pipeline.definitions.resolve_job_def(GHARCHIVE_JOB)
    for force in (False, True):
        run = job.execute_in_process(
            partition_key="2025-09-01-05:00",
            instance=pipeline.instance,
            run_config={"ops": {"raw__github_events": {"config": {"force": force}}}},
        )
        assert run.success
        metadata = run.get_asset_materialization_events()[0].materialization.metadata
        assert metadata["units_loaded"].value == (1 if force else 0)
        table.refresh()
        assert table.scan().to_arrow().sort_by("id").equals(before), f"force={force}"


def test_a_failing_audit_blocks_publishing(pipeline: Pipeline) -> None:
    """Runs last: it corrupts SQLMesh's projects_v1 table (a duplicate project) on purpose."""
    catalog = pipeline.catalog
    node = next(n for n in pipeline.nodes if n.name == "marts.projects_v1")
    materialized = {e.asset_key: e.materialization for e in pipeline.result.get_asset_materialization_events()}
    physical = catalog.load_table(materialized[node.key].metadata["physical_table"].value)
    physical.append(physical.scan(limit=1).to_arrow())
    published = catalog.load_table("marts.projects_v1")
    snapshot_before = published.current_snapshot().snapshot_id

    job = pipeline.definitions.resolve_job_def(PIPELINE_JOB)
    run = job.execute_in_process(
        instance=pipeline.instance,
        asset_selection=[node.key, dg.AssetKey(["marts", "projects_v1"])],
        tags=RANGE,
        raise_on_error=False,
    )
    failed = [c for c in run.get_asset_check_evaluations() if not c.passed]
    assert [(c.asset_key, c.check_name) for c in failed] == [(node.key, "unique_values")]
    assert not run.success
    published.refresh()
    assert published.current_snapshot().snapshot_id == snapshot_before, "the bad rows were not published"
    assert published.scan().to_arrow().num_rows == SPEC.projects
