"""The SQLMesh project on DuckDB against a real catalog server, end to end.

One module-wide run on a generated sample (8 days), then an incremental day and a
restatement. The marts are checked against metrics computed by hand from the same files,
against the OSO column contract, and read back through PyIceberg and DuckDB.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyiceberg.expressions import In
from sqlmesh import Context
from sqlmesh.core.context import GenericContext

from commonlake.duckdb_attach import connect
from ingestion.pipelines import load_gharchive, load_ossd
from ingestion.synthetic import SampleManifest, SampleSpec, generate_sample
from operations.maintenance import MaintenanceStep, run_maintenance
from sqlmesh_project import deployed_project
from sqlmesh_project.metrics_factory import metric_id
from sqlmesh_project.runner import ModelsRunSummary, make_context, physical_identifier, run_models
from tests.conftest import RunningCatalog, make_settings, start_catalog
from tests.models import metrics_by_hand

SPEC = SampleSpec(seed=5, projects=6, collections=2, days=9, events_per_hour=16, start=date(2025, 9, 1))
FIRST_DAYS_END = datetime(2025, 9, 8, 23, tzinfo=UTC)  # the last hour of the first load
LAST_DAY = date(2025, 9, 9)

MART_COLUMNS = {
    "projects_v1": "project_id project_source project_namespace project_name display_name description",
    "collections_v1": "collection_id collection_source collection_namespace collection_name display_name description",
    "projects_by_collection_v1": "project_id project_source project_namespace project_name collection_id "
    "collection_source collection_namespace collection_name",
    "artifacts_v1": "artifact_id artifact_source_id artifact_source artifact_namespace artifact_name artifact_url",
    "artifacts_by_project_v1": "artifact_id artifact_source_id artifact_source artifact_namespace artifact_name "
    "project_id project_source project_namespace project_name",
    "event_types_v1": "event_type",
    "timeseries_events_by_artifact_v0": "time to_artifact_id from_artifact_id event_type event_source_id "
    "event_source amount",
    "metrics_v0": "metric_id metric_source metric_namespace metric_name display_name description rendered_sql "
    "sql_source_path aggregation_function",
    **{
        f"{kind}_metrics_by_{entity}_v0": f"metric_id {entity}_id sample_date amount unit"
        for kind in ("timeseries", "key")
        for entity in ("artifact", "project", "collection")
    },
    "events_daily_to_project": "project_id project_name event_source event_type bucket_day amount event_count",
}
CODE_METRICS_COLUMNS = [
    "project_id",
    "project_source",
    "project_namespace",
    "project_name",
    "display_name",
    "event_source",
    "star_count",
    "fork_count",
    "contributor_count",
    "active_developer_count_6_months",
    "commit_count_6_months",
    "opened_pull_request_count_6_months",
    "merged_pull_request_count_6_months",
    "opened_issue_count_6_months",
    "closed_issue_count_6_months",
]


@dataclass
class Lake:
    running: RunningCatalog
    manifest: SampleManifest
    first_run: ModelsRunSummary
    first_run_unit_tests: int  # SQLMesh unit tests the first plan ran

    @property
    def catalog(self):
        return self.running.catalog

    def mart(self, name: str):
        return self.catalog.load_table(f"marts.{name}").scan().to_arrow()


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    root = tmp_path_factory.mktemp("models")
    settings = make_settings(root / "lake", models={"start": SPEC.start.isoformat()})
    running = start_catalog(settings)
    try:
        manifest = generate_sample(root / "sample", SPEC)
        load_ossd(running.catalog, manifest.ossd_dir)
        load_gharchive(running.catalog, manifest.start, FIRST_DAYS_END, manifest.gharchive_dir)
        with unit_tests_counted() as unit_tests:
            summary = run_models(settings, running.catalog, execution_time="2025-09-09")
        yield Lake(running, manifest, summary, unit_tests.count)
    finally:
        running.server.stop()


@dataclass
class CallCount:
    count: int = 0


@contextmanager
def calls_counted(owner: type, method: str, weigh: Callable[[Any], int] = lambda result: 1) -> Iterator[CallCount]:
    """Count the calls of ``owner.method`` meanwhile, each weighed by its result."""
    counted = CallCount()
    original = getattr(owner, method)

    def counting(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        counted.count += weigh(result)
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(owner, method, counting)
        yield counted


def unit_tests_counted():
    """Count the SQLMesh unit tests that plans run meanwhile."""
    return calls_counted(Context, "test", lambda result: result.testsRun)


def project_loads_counted():
    """Count the times SQLMesh loads the project's models meanwhile."""
    return calls_counted(GenericContext, "load")


def _by(table, keys: list[str], value: str = "amount") -> dict:
    columns = [table[k].to_pylist() for k in keys]
    return {
        tuple(row) if len(row) > 1 else row[0]: v for *row, v in zip(*columns, table[value].to_pylist(), strict=True)
    }


def _metric(table, name: str):
    return table.filter(pc.equal(table["metric_id"], metric_id(name)))


def test_every_oso_mart_is_published_with_the_contract_columns(lake: Lake) -> None:
    published = {name for _, name in lake.catalog.list_tables("marts")}
    assert set(MART_COLUMNS) | {"code_metrics_by_project_v1"} <= published
    for name, columns in MART_COLUMNS.items():
        # OSO's columns, in OSO's order; a timeseries mart adds the end of each row's period.
        extra = ["period_end"] if name.startswith("timeseries_metrics_by_") else []
        assert lake.mart(name).column_names == columns.split() + extra, name
    code_metrics = lake.mart("code_metrics_by_project_v1").column_names
    assert code_metrics[: len(CODE_METRICS_COLUMNS)] == CODE_METRICS_COLUMNS
    assert set(lake.first_run.published) >= {f"marts.{name}" for name in MART_COLUMNS}
    metrics = lake.mart("metrics_v0")
    assert metrics.num_rows == 17 * 6
    assert "GITHUB_active_developers_monthly" in metrics["metric_name"].to_pylist()


def test_marts_equal_metrics_computed_by_hand(lake: Lake) -> None:
    directory = metrics_by_hand.read_directory(lake.manifest.ossd_dir)
    events = metrics_by_hand.read_events(lake.manifest.files, until=FIRST_DAYS_END.date())
    expected = metrics_by_hand.compute(directory, events)
    artifact = lake.mart("timeseries_metrics_by_artifact_v0")
    project = lake.mart("timeseries_metrics_by_project_v0")

    commits = _by(_metric(artifact, "GITHUB_commits_daily"), ["artifact_id", "sample_date"])
    assert commits == expected.commits_by_repo_day
    # Only the week that has ended (09-01 … 09-07) is there; 09-08 starts an open week.
    developers = _by(_metric(project, "GITHUB_active_developers_weekly"), ["project_id", "sample_date"])
    assert developers == {
        k: float(v) for k, v in expected.active_developers_by_project_week.items() if k[1] < date(2025, 9, 8)
    }

    key_project = lake.mart("key_metrics_by_project_v0")
    stars = _metric(key_project, "GITHUB_stars_over_all_time")
    assert _by(stars, ["project_id"]) == expected.stars_by_project
    assert set(stars["sample_date"].to_pylist()) == {expected.as_of}
    merge = _by(_metric(lake.mart("key_metrics_by_artifact_v0"), "GITHUB_time_to_merge_over_all_time"), ["artifact_id"])
    assert merge.keys() == expected.median_hours_to_merge_by_repo.keys()
    for repo, hours in expected.median_hours_to_merge_by_repo.items():
        assert math.isclose(merge[repo], hours, rel_tol=1e-9), repo
    prs = _by(
        _metric(lake.mart("key_metrics_by_collection_v0"), "GITHUB_opened_pull_requests_over_all_time"),
        ["collection_id"],
    )
    assert prs == expected.opened_prs_by_collection

    code = {row["project_id"]: row for row in lake.mart("code_metrics_by_project_v1").to_pylist()}
    for project_id, count in expected.stars_by_project.items():
        assert code[project_id]["star_count"] == count
    assert expected.contributors_by_project
    assert {p: row["contributor_count"] for p, row in code.items() if row["contributor_count"]} == (
        expected.contributors_by_project
    )


def test_duckdb_and_pyiceberg_read_the_same_marts(lake: Lake) -> None:
    con = connect(lake.running.settings, alias="lake")
    try:
        for _, name in lake.catalog.list_tables("marts"):
            rows = lake.mart(name).num_rows
            assert con.execute(f'SELECT COUNT(*) FROM lake.marts."{name}"').fetchone()[0] == rows, name
            assert rows > 0, name
    finally:
        con.close()


def test_the_backfill_writes_incremental_models_in_time_order(lake: Lake) -> None:
    """So a range scan (a run's lookback, an interval audit, a window) reads only its range's files."""
    settings = lake.running.settings
    context = make_context(settings, unit_tests=False)
    try:
        models = {
            name: model.time_column.column.name
            for name, model in context.models.items()
            if model.kind.is_incremental_by_time_range
        }
        checked = set()
        for name, time_column in models.items():
            table = lake.catalog.load_table(physical_identifier(context, name, settings))
            files = [task.file.file_path for task in table.scan().plan_files()]
            if files:  # no month has ended yet: the monthly … yearly ones are empty
                checked.add(name)
            for path in files:
                with table.io.new_input(path).open() as stream:
                    times = pq.read_table(stream, columns=[time_column]).column(0)
                assert len(times) > 0, name
                assert pc.all(pc.less_equal(times[:-1], times[1:])).as_py(), f"{name}: {path} is not in time order"
        # staging and intermediate events, the daily metrics, the event marts
        assert len(checked) >= 10, checked
    finally:
        context.close()


def test_a_run_after_new_raw_data_processes_only_the_new_day(lake: Lake) -> None:
    settings = lake.running.settings
    before = lake.mart("timeseries_events_by_artifact_v0")
    day_start = datetime(2025, 9, 9, tzinfo=UTC)
    load_gharchive(lake.catalog, day_start, lake.manifest.end, lake.manifest.gharchive_dir)
    events_table = _physical(lake, "intermediate.int_events__github")
    snapshots_before = {s.snapshot_id for s in events_table.snapshots()}

    with unit_tests_counted() as unit_tests, project_loads_counted() as loads:
        summary = run_models(settings, lake.catalog, execution_time="2025-09-10")

    # The first plan added every model, so it ran every unit test; a run of unchanged
    # models needs no plan and runs none (they ran when the models last changed). Prod is
    # recorded as running these sources since that plan, so the run loads no model either.
    assert lake.first_run.plan_applied and lake.first_run_unit_tests >= 13
    assert not summary.plan_applied and unit_tests.count == 0
    assert loads.count == 0
    after = lake.mart("timeseries_events_by_artifact_v0")
    days_after = {t.date() for t in after["time"].to_pylist()}
    assert LAST_DAY in days_after
    old_after = after.filter(pc.less(after["time"], datetime(2025, 9, 8, tzinfo=UTC)))
    old_before = before.filter(pc.less(before["time"], datetime(2025, 9, 8, tzinfo=UTC)))
    assert sorted(old_after["event_source_id"].to_pylist()) == sorted(old_before["event_source_id"].to_pylist())
    # The new snapshots of the unified events added exactly the new day and the one day of
    # lookback, nothing earlier.
    events_table = _physical(lake, "intermediate.int_events__github")
    added = sum(
        int(s.summary.additional_properties.get("added-records", 0))
        for s in events_table.snapshots()
        if s.snapshot_id not in snapshots_before
    )
    recent = after.filter(pc.greater_equal(after["time"], datetime(2025, 9, 8, tzinfo=UTC))).num_rows
    assert added == recent > 0
    daily = _metric(lake.mart("timeseries_metrics_by_artifact_v0"), "GITHUB_commits_daily")
    assert LAST_DAY in set(daily["sample_date"].to_pylist())
    # FULL models were replaced by dropping their old data files: no delete files, no dead rows.
    for model in ("staging.stg_ossd__projects", "marts.code_metrics_by_project_v1"):
        table = _physical(lake, model)
        tasks = list(table.scan().plan_files())
        assert tasks and not any(task.delete_files for task in tasks), model
        assert sum(task.file.record_count for task in tasks) == table.scan().count() > 0, model
        assert table.current_snapshot().summary["total-delete-files"] == "0", model


def test_a_run_loads_the_project_when_its_sources_or_prod_changed(
    lake: Lake, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = lake.running.settings
    marts_before = {name: lake.catalog.load_table(f"marts.{name}").metadata_location for name in MART_COLUMNS}

    def run() -> int:
        with project_loads_counted() as loads:  # no new interval at this time: nothing to process
            summary = run_models(settings, lake.catalog, execution_time="2025-09-10")
        assert not summary.plan_applied
        return loads.count

    assert run() == 0
    # A source file changes (here one more file among the Python the models import): the
    # run cannot know prod runs it without loading and diffing the project.
    extra = tmp_path / "package"
    extra.mkdir()
    (extra / "helper.py").write_text("VALUE = 1\n")
    monkeypatch.setattr(deployed_project, "IMPORTED_PACKAGES", (*deployed_project.IMPORTED_PACKAGES, extra))
    assert run() == 1
    assert run() == 0  # the diff found nothing to plan and recorded these sources
    (extra / "helper.py").write_text("VALUE = 2\n")
    assert run() == 1
    # Prod moved to a plan this run did not record (another machine sharing the state):
    # the record no longer vouches for prod.
    record = next(deployed_project.state_dir(settings).glob(f"*{deployed_project.RECORD}"))
    record.write_text(record.read_text().replace('"plan_id": "', '"plan_id": "another-'))
    assert run() == 1
    assert run() == 0
    # An unreadable record is no record.
    record.write_text("{not json")
    assert run() == 1
    # Every path published the same marts (nothing new to process, nothing rewritten).
    assert {name: lake.catalog.load_table(f"marts.{name}").metadata_location for name in MART_COLUMNS} == marts_before


def test_maintenance_compacts_away_the_models_row_deletes(lake: Lake) -> None:
    # Runs after the incremental day: its lookback cut through the backfill's files, which
    # DuckDB answers with positional delete files.
    identifier = ".".join(_physical(lake, "intermediate.int_events__github").name()[-2:])
    table = lake.catalog.load_table(identifier)
    rows_before = table.scan().to_arrow().sort_by([("event_source_id", "ascending")])
    assert any(task.delete_files for task in table.scan().plan_files())

    report = run_maintenance(lake.catalog, lake.running.settings.maintenance, [MaintenanceStep.COMPACT])

    compacted = {result.table for result in report.compaction if result.files_before}
    assert identifier in compacted, "the default namespaces include the models' tables"
    table.refresh()
    assert not any(task.delete_files for task in table.scan().plan_files())
    assert table.scan().to_arrow().sort_by([("event_source_id", "ascending")]).equals(rows_before)
    con = connect(lake.running.settings, alias="lake")
    try:
        assert con.execute(f"SELECT count(*) FROM lake.{identifier}").fetchone()[0] == rows_before.num_rows
    finally:
        con.close()


def test_restating_a_day_recomputes_it_and_its_periods(lake: Lake) -> None:
    settings = lake.running.settings
    raw = lake.catalog.load_table("raw.github_events")
    day = raw.scan(row_filter="created_at >= '2025-09-03T00:00:00+00:00' AND created_at < '2025-09-04T00:00:00+00:00'")
    pushes = day.to_arrow().filter(pc.equal(day.to_arrow()["type"], "PushEvent"))
    target = pushes["repo"].combine_chunks().field("name")[0].as_py().lower()
    removed = [row["id"] for row in pushes.to_pylist() if row["repo"]["name"].lower() == target]
    repo_id = metrics_by_hand.entity_id("GITHUB", *target.split("/"))
    artifact = lake.mart("timeseries_metrics_by_artifact_v0")
    daily_before = _by(_metric(artifact, "GITHUB_commits_daily"), ["artifact_id", "sample_date"])
    weekly_before = _by(_metric(artifact, "GITHUB_commits_weekly"), ["artifact_id", "sample_date"])
    assert daily_before[(repo_id, date(2025, 9, 3))] > 0

    raw.delete(In("id", removed))  # a correction upstream: those pushes never happened
    run_models(
        settings,
        lake.catalog,
        start="2025-09-03",
        end="2025-09-03",
        restate=["staging.stg_github__events"],
        execution_time="2025-09-10",
    )

    artifact = lake.mart("timeseries_metrics_by_artifact_v0")
    daily_after = _by(_metric(artifact, "GITHUB_commits_daily"), ["artifact_id", "sample_date"])
    weekly_after = _by(_metric(artifact, "GITHUB_commits_weekly"), ["artifact_id", "sample_date"])
    lost = daily_before[(repo_id, date(2025, 9, 3))]
    assert (repo_id, date(2025, 9, 3)) not in daily_after
    assert {k: v for k, v in daily_after.items() if k[1] != date(2025, 9, 3)} == {
        k: v for k, v in daily_before.items() if k[1] != date(2025, 9, 3)
    }
    week = (repo_id, date(2025, 9, 1))
    assert weekly_after[week] == weekly_before[week] - lost
    assert {k: v for k, v in weekly_after.items() if k != week} == {k: v for k, v in weekly_before.items() if k != week}


def test_full_models_with_unchanged_inputs_are_not_rewritten(lake: Lake) -> None:
    # A day without new raw data, after earlier runs refreshed every FULL model at least once
    # (the first write of a model, when SQLMesh creates its table, records no fingerprint).
    full_models = ("staging.stg_ossd__projects", "marts.projects_v1", "marts.metrics_v0")
    reading_events = "marts.code_metrics_by_project_v1"  # its input's lookback day is rewritten
    before = {model: _physical(lake, model).current_snapshot().snapshot_id for model in (*full_models, reading_events)}

    summary = run_models(lake.running.settings, lake.catalog, execution_time="2025-09-11")

    after = {model: _physical(lake, model).current_snapshot().snapshot_id for model in before}
    assert {model for model in before if after[model] != before[model]} == {reading_events}
    assert {"marts.projects_v1", "marts.metrics_v0"} <= set(summary.unchanged)
    assert "marts.code_metrics_by_project_v1" in summary.published
    assert lake.mart("projects_v1").num_rows > 0


def _physical(lake: Lake, model: str):
    context = make_context(lake.running.settings)
    try:
        return lake.catalog.load_table(physical_identifier(context, model, lake.running.settings))
    finally:
        context.close()


@pytest.mark.slow
def test_spark_reads_the_same_marts(lake: Lake) -> None:
    from pyspark.sql import SparkSession

    from sqlmesh_project.engines.spark_iceberg import spark_config

    builder = SparkSession.builder.appName("commonlake-marts-read")
    for key, value in spark_config(lake.running.settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    try:
        for _, name in lake.catalog.list_tables("marts"):
            rows = spark.sql(f"SELECT COUNT(*) AS n FROM ice.marts.{name}").collect()[0]["n"]
            assert rows == lake.mart(name).num_rows, name
    finally:
        spark.stop()
