"""The Dagster Definitions: the asset graph mirrors the SQLMesh DAG; schedule and sensor decide correctly."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest

from commonlake.servers import free_port
from commonlake.settings import Settings
from ingestion.synthetic import SampleSpec, generate_sample
from orchestration.definitions import GHARCHIVE_JOB, PIPELINE_JOB, build_definitions
from orchestration.model_graph import ModelNode

OSSD_KEYS = {dg.AssetKey(["raw", n]) for n in ("ossd_projects", "ossd_collections", "ossd_artifacts")}
RAW_KEYS = {dg.AssetKey(["raw", "github_events"]), *OSSD_KEYS}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("defs")).with_updates(
        orchestration={"gharchive_start": "2025-09-01-00:00"},
        export={"bigquery_dataset": "oso_mirror", "bigquery_project": "p", "bigquery_anonymous": True},
    )


@pytest.fixture(scope="module")
def definitions(settings: Settings, model_nodes: list[ModelNode]) -> dg.Definitions:
    return build_definitions(settings, model_nodes)


def test_asset_graph_is_the_sqlmesh_dag_between_ingestion_and_publishing(
    definitions: dg.Definitions, model_nodes: list[ModelNode]
) -> None:
    graph = definitions.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    model_keys = {node.key for node in model_nodes}
    marts = [node for node in model_nodes if node.schema == "marts"]
    assert len(model_nodes) > 10 and len(marts) >= 2
    assert keys >= RAW_KEYS and model_keys <= keys
    published = {dg.AssetKey(["marts", node.name.split(".")[1]]) for node in marts}
    mirrored = {dg.AssetKey(["bigquery", node.name.split(".")[1]]) for node in marts}
    assert keys == RAW_KEYS | model_keys | published | mirrored, "nothing else, nothing missing"

    for node in model_nodes:
        parents = graph.get(node.key).parent_keys
        assert parents == set(node.deps), node.name
        assert parents <= keys, f"{node.name} depends on an asset that does not exist"
        assert all(p in RAW_KEYS or p in model_keys for p in parents)
    # Known edges of the project: events come from GH Archive, filtered by the directory.
    staging_events = graph.get(dg.AssetKey(["sqlmesh", "staging", "stg_github__events"])).parent_keys
    assert {dg.AssetKey(["raw", "github_events"]), dg.AssetKey(["sqlmesh", "staging", "stg_ossd__artifacts"])} <= (
        staging_events
    )
    for node in marts:
        name = node.name.split(".")[1]
        assert graph.get(dg.AssetKey(["marts", name])).parent_keys == {node.key}
        assert graph.get(dg.AssetKey(["bigquery", name])).parent_keys == {dg.AssetKey(["marts", name])}
    events_mart = set(graph.upstream_key_iterator(dg.AssetKey(["sqlmesh", "marts", "events_daily_to_project"])))
    assert RAW_KEYS - {dg.AssetKey(["raw", "ossd_collections"])} <= events_mart, "fed by GH Archive and the directory"


def test_every_audit_is_an_asset_check(definitions: dg.Definitions, model_nodes: list[ModelNode]) -> None:
    graph = definitions.resolve_asset_graph()
    expected = {dg.AssetCheckKey(node.key, check.check_name) for node in model_nodes for check in node.audits}
    assert expected and set(graph.asset_check_keys) == expected
    projects = next(node for node in model_nodes if node.name == "marts.projects_v1")
    assert {check.audit_name for check in projects.audits} >= {"unique_values", "not_null"}
    assert all(check.blocking for check in projects.audits)


def test_jobs_partitions_schedule_and_sensor_exist(definitions: dg.Definitions) -> None:
    pipeline = definitions.resolve_job_def(PIPELINE_JOB)
    assert isinstance(pipeline.partitions_def, dg.HourlyPartitionsDefinition)
    assert pipeline.partitions_def.get_first_partition_key() == "2025-09-01-00:00"
    assert definitions.resolve_job_def(GHARCHIVE_JOB)
    for job in ("table_maintenance", "compact_tables", "expire_snapshots", "remove_orphans"):
        assert definitions.resolve_job_def(job)
    assert definitions.resolve_schedule_def("daily_pipeline").cron_schedule == "0 2 * * *"
    assert definitions.resolve_sensor_def("new_gharchive_hours")


def test_without_a_dataset_there_is_no_bigquery_mirror(model_nodes: list[ModelNode], tmp_path: Path) -> None:
    keys = build_definitions(Settings(data_dir=tmp_path), model_nodes).resolve_asset_graph().get_all_asset_keys()
    assert not any(key.path[0] == "bigquery" for key in keys)


def test_daily_schedule_requests_yesterdays_hours(definitions: dg.Definitions) -> None:
    schedule = definitions.resolve_schedule_def("daily_pipeline")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2025, 9, 3, 2, 0, tzinfo=UTC))
    [request] = schedule.evaluate_tick(context).run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "2025-09-02-00:00"
    assert request.tags["dagster/asset_partition_range_end"] == "2025-09-02-23:00"
    early = dg.build_schedule_context(scheduled_execution_time=datetime(2025, 9, 1, 2, 0, tzinfo=UTC))
    result = schedule.evaluate_tick(early)
    assert not result.run_requests and "before the first GH Archive hour" in result.skip_message


class _RecordingHandler(http.server.SimpleHTTPRequestHandler):
    heads: list[str]

    def do_HEAD(self) -> None:
        self.heads.append(self.path)
        super().do_HEAD()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def hour_server(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server with the first three hour files of 2025-09-01, recording HEADs."""
    manifest = generate_sample(tmp_path / "sample", SampleSpec(seed=2, projects=3, days=1, events_per_hour=3))
    for path in manifest.files[3:]:
        path.unlink()
    heads: list[str] = []
    handler = type("Handler", (_RecordingHandler,), {"heads": heads})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(manifest.gharchive_dir))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", heads
    finally:
        server.shutdown()
        server.server_close()


def test_sensor_requests_each_new_hour_once_and_stops_at_the_first_missing(
    hour_server: tuple[str, list[str]], model_nodes: list[ModelNode], tmp_path: Path
) -> None:
    url, heads = hour_server
    settings = Settings(data_dir=tmp_path).with_updates(
        orchestration={"gharchive_source": url, "gharchive_start": "2025-09-01-00:00"}
    )
    definitions = build_definitions(settings, model_nodes)
    sensor = definitions.resolve_sensor_def("new_gharchive_hours")
    assert SampleSpec().start == date(2025, 9, 1)

    result = sensor.evaluate_tick(dg.build_sensor_context(cursor="2025-08-31-23:00", definitions=definitions))
    assert [r.partition_key for r in result.run_requests] == [
        "2025-09-01-00:00",
        "2025-09-01-01:00",
        "2025-09-01-02:00",
    ]
    assert result.cursor == "2025-09-01-02:00"
    assert heads == [f"/2025-09-01-{h}.json.gz" for h in range(4)], "HEAD on each hour file, up to the missing one"

    again = sensor.evaluate_tick(dg.build_sensor_context(cursor=result.cursor, definitions=definitions))
    assert not again.run_requests and "no new hour" in again.skip_message

    down = Settings(data_dir=tmp_path).with_updates(
        orchestration={"gharchive_source": f"http://127.0.0.1:{free_port()}", "gharchive_start": "2025-09-01-00:00"}
    )
    definitions = build_definitions(down, model_nodes)
    sensor = definitions.resolve_sensor_def("new_gharchive_hours")
    unreachable = sensor.evaluate_tick(dg.build_sensor_context(cursor="2025-08-31-23:00", definitions=definitions))
    assert not unreachable.run_requests and "unreachable" in unreachable.skip_message


def test_the_code_location_serializes_for_the_webserver(definitions: dg.Definitions) -> None:
    """What `dagster dev` sends from the code server to the UI (a SQLMesh enum in metadata once broke it)."""
    from dagster._core.remote_representation.external_data import RepositorySnap
    from dagster_shared.serdes import serialize_value

    assert serialize_value(RepositorySnap.from_def(definitions.get_repository_def()))
