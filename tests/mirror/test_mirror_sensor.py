"""Dagster: the sensor requests one refresh per remote change, and the job carries it out."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from commonlake.settings import Settings
from mirror import add_mirror
from orchestration.definitions import build_definitions
from orchestration.mirrors import MIRROR_JOB, MIRROR_SENSOR, build_mirror_sensor, mirror_refresh
from orchestration.resources import Lakehouse
from tests.mirror.conftest import Node, events_batch, make_events_table, start_node, unique


def tick(settings: Settings) -> dg.SensorResult | dg.SkipReason:
    return build_mirror_sensor(settings).evaluate_tick(dg.build_sensor_context())


def run(settings: Settings, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    return mirror_refresh.execute_in_process(
        run_config=request.run_config,
        resources={"lakehouse": Lakehouse(settings)},
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_the_sensor_refreshes_a_mirror_once_per_remote_change(source: Node, tmp_path: Path) -> None:
    node = start_node(tmp_path / "mirroring")
    try:
        settings = node.settings
        assert not tick(settings).run_requests and "0 mirrors" in tick(settings).skip_message

        ns, name = unique("marts"), unique("m")
        table = make_events_table(source.catalog, ns, days=1)
        add_mirror(settings, name, source.uri, ns, "copy")
        [request] = tick(settings).run_requests
        assert request.run_key.startswith(f"{name}-") and request.tags["commonlake/mirror"] == name
        assert [r.run_key for r in tick(settings).run_requests] == [request.run_key], "same state, same run key"

        result = run(settings, request)
        assert result.success
        assert node.catalog.load_table((name, ns, "events")).scan().to_arrow().num_rows == 50
        assert tick(settings).run_requests == [] and "up to date" in tick(settings).skip_message

        table.append(events_batch(4, 5))
        [second] = tick(settings).run_requests
        assert second.run_key != request.run_key
        assert run(settings, second).success
        assert node.catalog.load_table((name, ns, "events")).scan().to_arrow().num_rows == 55

        # An unreachable remote is skipped with its reason; the others are still checked.
        gone = start_node(tmp_path / "gone")
        other_ns = unique("marts")
        make_events_table(gone.catalog, other_ns, days=1)
        add_mirror(settings, "gone", gone.uri, other_ns, "copy")
        gone.stop()
        table.append(events_batch(5, 5))
        result = tick(settings)
        assert [r.tags["commonlake/mirror"] for r in result.run_requests] == [name]

        # A failing refresh fails the Dagster run (visible in the UI) with the reason.
        config = {"ops": {"refresh_one_mirror": {"config": {"mirror": "gone"}}}}
        failed = run(settings, dg.RunRequest(run_config=config))
        assert not failed.success
        failure = failed.failure_data_for_node("refresh_one_mirror")
        assert "unreachable" in failure.user_failure_data.description
    finally:
        node.stop()


def test_the_definitions_carry_the_mirror_job_and_sensor(tmp_path: Path) -> None:
    definitions = build_definitions(Settings(data_dir=tmp_path), nodes=[])
    assert definitions.resolve_job_def(MIRROR_JOB) is not None
    sensor = definitions.resolve_sensor_def(MIRROR_SENSOR)
    assert sensor.job_name == MIRROR_JOB and sensor.minimum_interval_seconds == 300
