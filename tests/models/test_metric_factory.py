"""The metrics factory: metric files → per-entity, per-period models and metrics_v0 rows."""

from __future__ import annotations

import hashlib
import statistics
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

from sqlmesh_project.macros.exact_median import exact_median
from sqlmesh_project.metric_definitions import MetricDefinition, MetricDefinitionError, load_metric, load_metrics
from sqlmesh_project.metrics_factory import (
    ENTITIES,
    OVER_ALL_TIME,
    PERIOD_UNITS,
    PERIODS,
    TIMESERIES_PERIODS,
    key_metrics_model,
    metric_cte,
    metric_id,
    metric_query,
    metrics_v0_query,
    period_blueprints,
    period_ends_within,
    period_query,
    period_start,
    timeseries_model,
)

# The issue's metrics: those additive over days (aggregation_function: SUM) and the others.
ADDITIVE_METRICS = {
    "commits",
    "stars",
    "forks",
    "opened_issues",
    "closed_issues",
    "opened_pull_requests",
    "merged_pull_requests",
    "comments",
    "releases",
}
NOT_ADDITIVE_METRICS = {
    "contributors",
    "new_contributors",
    "active_developers",
    "full_time_developers",
    "part_time_developers",
    "time_to_first_response",
    "time_to_merge",
    "contributor_absence_factor",
}
ISSUE_METRICS = ADDITIVE_METRICS | NOT_ADDITIVE_METRICS

NEW_METRIC = """/*
display_name: Deleted branches
description: Branch deletions.
unit: branches
aggregation_function: SUM
*/
SELECT entity_id, sample_date, SUM(amount) AS amount
FROM events
WHERE event_type = 'BRANCH_DELETED'
GROUP BY entity_id, sample_date
"""


def test_every_metric_of_the_issue_is_defined_once() -> None:
    names = [m.name for m in load_metrics()]
    assert set(names) == ISSUE_METRICS
    assert len(names) == len(set(names))


def test_every_metric_is_computed_by_one_model_per_entity_and_period() -> None:
    metrics = load_metrics()
    blueprints = period_blueprints(metrics, TIMESERIES_PERIODS)
    assert len(blueprints) == len(ENTITIES) * len(TIMESERIES_PERIODS) == 3 * 5
    names = {timeseries_model(b["entity"], b["period"]) for b in blueprints}
    assert {"metrics.timeseries_to_artifact_daily", "metrics.timeseries_to_collection_quarterly"} <= names
    for blueprint in blueprints:
        # one UNION ALL branch per metric, each reading its own CTE
        assert blueprint["query"].count("\nUNION ALL\n") == len(metrics) - 1
        for metric in metrics:
            assert f"FROM {metric_cte(metric.name)}" in blueprint["query"]
    assert key_metrics_model("project") == "marts.key_metrics_by_project_v0"


def test_adding_a_metric_is_one_file(tmp_path: Path) -> None:
    (tmp_path / "deleted_branches.sql").write_text(NEW_METRIC)
    metrics = load_metrics(tmp_path)
    blueprints = period_blueprints(metrics, PERIODS)
    assert len(blueprints) == len(ENTITIES) * len(PERIODS)
    assert all(f"FROM {metric_cte('deleted_branches')}" in b["query"] for b in blueprints)
    rows = duckdb.sql(metrics_v0_query(metrics)).fetchall()
    names = sorted(row[3] for row in rows)
    assert names == sorted(f"GITHUB_deleted_branches_{p.name}" for p in PERIODS)
    row = next(r for r in rows if r[3] == "GITHUB_deleted_branches_monthly")
    assert row[0] == hashlib.sha256(b"OSO|oso|GITHUB_deleted_branches_monthly").hexdigest()
    assert row[1:3] == ("OSO", "oso")
    assert row[4] == "Deleted branches (monthly)" and row[7] == "oso_metrics/deleted_branches.sql"
    assert row[8] == "SUM" and "BRANCH_DELETED" in row[6]


def test_metric_ids_are_entity_ids_of_the_metric_name() -> None:
    expected = hashlib.sha256(b"OSO|oso|GITHUB_commits_daily").hexdigest()
    assert metric_id("GITHUB_commits_daily") == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1", "starts with a /* YAML header */"),
        ("/* display_name: [unclosed */ SELECT 1", "not valid YAML"),
        ("/*\ndisplay_name: X\n*/\n", "no SQL query"),
        ("/*\ndisplay_name: X\n*/\nSELECT entity_id, sample_date, 1 AS amount FROM events", "description"),
    ],
)
def test_a_bad_metric_file_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "broken.sql"
    path.write_text(text)
    with pytest.raises(MetricDefinitionError, match=r"broken\.sql") as error:
        load_metric(path)
    assert message in str(error.value)


def test_a_sum_metric_must_sum_its_amount(tmp_path: Path) -> None:
    path = tmp_path / "branch_deleters.sql"
    path.write_text(NEW_METRIC.replace("SUM(amount) AS amount", "COUNT(DISTINCT developer_id) AS amount"))
    with pytest.raises(MetricDefinitionError, match="additive over days"):
        load_metric(path)
    path.write_text(path.read_text().replace("aggregation_function: SUM", "aggregation_function: COUNT_DISTINCT"))
    assert not load_metric(path).additive


def test_additive_metrics_of_longer_periods_sum_the_daily_model_and_the_others_read_events() -> None:
    metrics = {m.name: m for m in load_metrics()}
    assert {name for name, m in metrics.items() if m.additive} == ADDITIVE_METRICS
    daily_model = f"FROM {timeseries_model('project', 'daily')} AS d"
    daily_stars = metric_id("GITHUB_stars_daily")
    for period in PERIODS[1:]:  # weekly … yearly and over all time
        stars = period_query([metrics["stars"]], "project", period)
        assert daily_model in stars and f"d.metric_id IN ('{daily_stars}')" in stars, period.name
        assert "\nevents AS (" not in stars, period.name  # no event is read
        developers = period_query([metrics["active_developers"]], "project", period)
        assert "\nevents AS (" in developers and timeseries_model("project", "daily") not in developers
    # Daily values are computed from the events, additive or not.
    daily = period_query([metrics["stars"]], "project", PERIODS[0])
    assert "\nevents AS (" in daily and "daily_sums" not in daily
    # metrics_v0 shows each metric's own query, the definition the sums agree with.
    assert "daily_sums" not in metric_query(metrics["stars"], "project", OVER_ALL_TIME)


def test_a_metric_file_name_must_be_snake_case(tmp_path: Path) -> None:
    path = tmp_path / "Bad-Name.sql"
    path.write_text(NEW_METRIC)
    with pytest.raises(MetricDefinitionError, match="lower_snake_case"):
        load_metric(path)


def test_a_metric_must_read_a_factory_relation(tmp_path: Path) -> None:
    path = tmp_path / "orphan.sql"
    path.write_text(NEW_METRIC.replace("FROM events", "FROM somewhere_else"))
    with pytest.raises(ValueError, match=r"reads none of the factory's relations"):
        metric_query(load_metric(path), "artifact", PERIODS[0])


def test_a_metric_may_not_name_a_cte_as_the_factory_does(tmp_path: Path) -> None:
    own_cte = "keyed"  # the factory's name for a metric's rows by entity key
    path = tmp_path / "shadowing.sql"
    path.write_text(
        "/*\ndisplay_name: Shadowing\ndescription: d\nunit: developers\naggregation_function: COUNT_DISTINCT\n*/\n"
        f"WITH {own_cte} AS (SELECT entity_id, sample_date, developer_id FROM events)\n"
        f"SELECT entity_id, sample_date, COUNT(DISTINCT developer_id) AS amount FROM {own_cte} GROUP BY 1, 2"
    )
    with pytest.raises(ValueError, match=rf"names CTEs \['{own_cte}'\] itself"):
        metric_query(load_metric(path), "project", PERIODS[0])


def _days_metric(tmp_path: Path, name: str, event_type: str, having: str) -> MetricDefinition:
    """A metric counting developers by their active days, through a CTE named ``days``."""
    path = tmp_path / f"{name}.sql"
    path.write_text(
        f"/*\ndisplay_name: {name}\ndescription: d\nunit: developers\naggregation_function: COUNT_DISTINCT\n*/\n"
        "WITH days AS (SELECT entity_id, sample_date, developer_id, COUNT(DISTINCT bucket_day) AS n FROM events "
        f"WHERE event_type = '{event_type}' GROUP BY entity_id, sample_date, developer_id)\n"
        f"SELECT entity_id, sample_date, COUNT(*) AS amount FROM days WHERE {having} GROUP BY entity_id, sample_date"
    )
    return load_metric(path)


def test_a_cte_two_metrics_define_alike_is_computed_once(tmp_path: Path) -> None:
    busy = _days_metric(tmp_path, "busy", "COMMIT_CODE", "n >= 2")
    casual = _days_metric(tmp_path, "casual", "COMMIT_CODE", "n < 2")  # the same `days` as busy
    fans = _days_metric(tmp_path, "fans", "STARRED", "n >= 2")  # a `days` of its own
    query = period_query([busy, casual, fans], "artifact", OVER_ALL_TIME)
    assert query.count("busy__days AS (") == 1 and "casual__days" not in query
    assert "FROM busy__days WHERE n < 2" in query
    assert "fans__days AS (" in query and "FROM fans__days WHERE n >= 2" in query
    con = duckdb.connect()
    con.execute("CREATE SCHEMA intermediate")
    con.execute(
        "CREATE TABLE intermediate.int_events_daily__github AS SELECT * FROM (VALUES "
        "(DATE '2025-09-01', 'COMMIT_CODE', 'dev_1'), (DATE '2025-09-02', 'COMMIT_CODE', 'dev_1'), "
        "(DATE '2025-09-02', 'COMMIT_CODE', 'dev_2'), (DATE '2025-09-01', 'STARRED', 'dev_3'), "
        "(DATE '2025-09-03', 'STARRED', 'dev_3'), (DATE '2025-09-03', 'STARRED', 'dev_2')) AS t(bucket_day, "
        "event_type, from_artifact_id), LATERAL (SELECT 'GITHUB' AS event_source, 'repo_a' AS to_artifact_id, "
        "FALSE AS from_is_bot, 1.0 AS amount, 1 AS event_count)"
    )
    amounts = {row[0]: row[1] for row in con.execute(f"SELECT metric_id, amount FROM ({query})").fetchall()}
    expected = {"busy": 1.0, "casual": 1.0, "fans": 1.0}  # dev_1 | dev_2 | dev_3
    assert {m: amounts[metric_id(f"GITHUB_{m}_over_all_time")] for m in expected} == expected
    for metric in (busy, casual, fans):  # each metric alone gives the same number
        alone = con.execute(f"SELECT amount FROM ({metric_query(metric, 'artifact', OVER_ALL_TIME)})").fetchall()
        assert alone == [(expected[metric.name],)]


def test_full_and_part_time_developers_share_their_commit_days() -> None:
    query = period_query(load_metrics(), "project", OVER_ALL_TIME)
    assert query.count("__commit_days AS (") == 1
    assert "FROM full_time_developers__commit_days WHERE active_days < " in query  # part-time's rows


def test_project_and_collection_metrics_group_by_integer_keys_and_return_entity_ids() -> None:
    """The relations carry a dense integer key per entity; each metric's rows get the ids back."""
    metric = next(m for m in load_metrics() if m.name == "active_developers")
    con = duckdb.connect()
    con.execute("CREATE SCHEMA intermediate")
    con.execute(
        "CREATE TABLE intermediate.int_events_daily__github AS SELECT * FROM (VALUES "
        "(DATE '2025-09-01', 'GITHUB', 'COMMIT_CODE', 'repo_a', 'dev_1', FALSE, 1.0, 1), "
        "(DATE '2025-09-01', 'GITHUB', 'COMMIT_CODE', 'repo_b', 'dev_1', FALSE, 1.0, 1), "
        "(DATE '2025-09-01', 'GITHUB', 'COMMIT_CODE', 'repo_b', 'dev_2', FALSE, 1.0, 1)) "
        "AS t(bucket_day, event_source, event_type, to_artifact_id, from_artifact_id, from_is_bot, amount, event_count)"
    )
    con.execute(
        "CREATE TABLE intermediate.int_artifacts_by_project AS SELECT * FROM (VALUES "
        "('repo_a', 'proj_z'), ('repo_b', 'proj_z'), ('repo_a', 'proj_a')) AS t(artifact_id, project_id)"
    )
    sql = metric_query(metric, "project", PERIODS[0]).replace("@start_date", "DATE '2025-09-01'")
    sql = sql.replace("@end_date", "DATE '2025-09-01'")
    assert "JOIN entity_keys" in sql
    rows = con.execute(f"SELECT project_id, amount FROM ({sql}) ORDER BY 1").fetchall()
    assert rows == [("proj_a", 1.0), ("proj_z", 2.0)]


def test_period_windows_cover_whole_periods_only() -> None:
    commits = next(m for m in load_metrics() if m.name == "commits")
    monthly = metric_query(commits, "project", next(p for p in TIMESERIES_PERIODS if p.name == "monthly"))
    # Reads from the start of the month of the interval start, up to the last month end in it.
    assert "BETWEEN CAST(DATE_TRUNC('month', @start_date) AS DATE)" in monthly
    assert "DATE_TRUNC('month', CAST(@end_date + INTERVAL 1 DAY AS DATE))" in monthly
    assert "int_artifacts_by_project" in monthly


@pytest.mark.parametrize(
    ("period", "start", "end", "ends"),
    [
        ("daily", "2025-09-03", "2025-09-03", True),
        ("weekly", "2025-09-01", "2025-09-06", False),  # Monday to Saturday
        ("weekly", "2025-09-07", "2025-09-07", True),  # a Sunday ends the week
        ("monthly", "2025-09-01", "2025-09-29", False),
        ("monthly", "2025-09-30", "2025-09-30", True),
        ("monthly", "2025-08-15", "2025-09-02", True),  # August ends inside
        ("quarterly", "2025-09-30", "2025-09-30", True),
        ("quarterly", "2025-10-31", "2025-10-31", False),
        ("yearly", "2025-12-30", "2025-12-30", False),
        ("yearly", "2025-12-31", "2025-12-31", True),
    ],
)
def test_a_period_model_has_rows_only_when_a_period_ends(period: str, start: str, end: str, ends: bool) -> None:
    assert period_ends_within(PERIOD_UNITS[period], date.fromisoformat(start), date.fromisoformat(end)) is ends


def test_period_starts_agree_with_duckdb_date_trunc() -> None:
    con = duckdb.connect()
    for period in TIMESERIES_PERIODS[1:]:
        for day in (date(2025, 1, 1) + timedelta(days=n) for n in range(0, 800, 3)):
            truncated = con.execute(f"SELECT CAST(DATE_TRUNC('{period.unit}', DATE '{day}') AS DATE)").fetchone()[0]
            assert period_start(period.unit, day) == truncated, (period.name, day)


def test_each_branch_of_a_period_model_carries_its_metric_id_and_unit() -> None:
    metrics = load_metrics()
    daily = next(p for p in TIMESERIES_PERIODS if p.name == "daily")
    query = period_blueprints(metrics, [daily])[0]["query"]  # artifact, daily
    query = query.replace("@start_date", "DATE '2025-09-01'").replace("@end_date", "DATE '2025-09-01'")
    query = query.replace("@exact_median(", "MEDIAN(")  # the macro's DuckDB form (tested below)
    con = duckdb.connect()
    con.execute("CREATE SCHEMA intermediate")
    con.execute(
        "CREATE TABLE intermediate.int_events_daily__github AS SELECT DATE '2025-09-01' AS bucket_day, "
        "'GITHUB' AS event_source, event_type, 'repo_a' AS to_artifact_id, 'dev_1' AS from_artifact_id, "
        "FALSE AS from_is_bot, amount, 1 AS event_count "
        "FROM (VALUES ('COMMIT_CODE', 3.0), ('STARRED', 1.0)) AS v(event_type, amount)"
    )
    con.execute(
        "CREATE TABLE intermediate.int_first_contributions__github AS SELECT 'repo_a' AS to_artifact_id, "
        "'dev_1' AS from_artifact_id, FALSE AS from_is_bot, DATE '2025-09-01' AS first_day"
    )
    con.execute(
        "CREATE TABLE intermediate.int_issue_event_time_deltas AS SELECT TIMESTAMPTZ '2025-09-01 10:00:00+00' "
        "AS time, 'TIME_TO_MERGE' AS delta_type, 'repo_a' AS to_artifact_id, 2.0 AS hours"
    )
    rows = con.execute(query).fetchall()
    by_id = {row[0]: row for row in rows}
    commits = by_id[metric_id("GITHUB_commits_daily")]
    assert commits[1:] == ("repo_a", commits[2], 3.0, "commits", commits[2])
    assert by_id[metric_id("GITHUB_stars_daily")][3:5] == (1.0, "stars")
    assert by_id[metric_id("GITHUB_time_to_merge_daily")][3:5] == (2.0, "hours")
    assert len(by_id) == len(rows), "one row per metric for one artifact and day"


@pytest.mark.parametrize("values", [[5.0], [4.0, 1.0], [3.0, 9.0, 1.0], [2.0, 8.0, 4.0, 100.0]])
def test_exact_median_is_exact_in_duckdb_and_in_trinos_array_form(values: list[float]) -> None:
    from sqlmesh.core import constants
    from sqlmesh.core.macros import MacroEvaluator

    expected = statistics.median(values)
    rows = ", ".join(f"({v})" for v in values)
    for dialect in ("duckdb", "trino"):
        evaluator = MacroEvaluator(dialect="duckdb")
        evaluator.locals[constants.SQLMESH_VARS] = {"engine_dialect": dialect}
        median = exact_median(evaluator, exp.column("x")).sql("duckdb")
        if dialect == "trino":  # the same array functions exist in DuckDB, so Trino's form runs here too
            assert "ARRAY_SORT(ARRAY_AGG(X))[" in median.upper().replace(" ", "")
        got = duckdb.connect().execute(f"SELECT {median} FROM (VALUES {rows}) AS t(x)").fetchone()[0]
        assert got == expected, (dialect, median)
