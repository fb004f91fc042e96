"""A fork: a second node mirrors the first node's marts and serves a metric of its own through its gateway."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
import yaml
from rich.console import Console

from commonlake.demo import ForkDemoError, run_fork_demo
from commonlake.servers import free_port
from commonlake.settings import Settings
from mirror import properties as p
from mirror.fork.runner import FORK_PROJECT_DIR
from tests.conftest import make_settings, start_catalog
from tests.mirror.conftest import Node, start_node

PROJECTS = 14
EVENT_TYPES = ("COMMIT_CODE", "STARRED", "PULL_REQUEST_OPENED", "ISSUE_OPENED")


def upstream_marts() -> tuple[pa.Table, pa.Table]:
    """``marts.events_daily_to_project`` and ``marts.projects_v1`` as the main project publishes them."""
    projects = pa.table(
        {
            "project_id": [f"p{i:02d}" for i in range(PROJECTS)],
            "project_source": ["OSS_DIRECTORY"] * PROJECTS,
            "project_namespace": ["oso"] * PROJECTS,
            "project_name": [f"project-{i:02d}" for i in range(PROJECTS)],
            "display_name": [f"Project {i}" for i in range(PROJECTS)],
            "description": pa.array([None] * PROJECTS, pa.string()),
        }
    )
    rows = []
    for i in range(PROJECTS):
        for d in range(5):
            for k, kind in enumerate(EVENT_TYPES):
                count = (i + 1) * (d + 2) + k * (i % 3) + (7 if i == 3 else 0)
                rows.append((f"p{i:02d}", f"project-{i:02d}", "GITHUB", kind, date(2025, 9, 1) + timedelta(d), count))
    events = pa.table(
        {
            "project_id": [r[0] for r in rows],
            "project_name": [r[1] for r in rows],
            "event_source": [r[2] for r in rows],
            "event_type": [r[3] for r in rows],
            "bucket_day": pa.array([r[4] for r in rows], pa.date32()),
            "amount": pa.array([float(r[5]) for r in rows], pa.float64()),
            "event_count": pa.array([r[5] for r in rows], pa.int64()),
        }
    )
    return events, projects


def expected_metric(events: pa.Table) -> dict[str, tuple[int, float, float, int]]:
    """project_id → (events, event share, commit share, rank), computed here by hand."""
    totals: dict[str, list[float]] = {}
    for row in events.to_pylist():
        entry = totals.setdefault(row["project_id"], [0, 0.0])
        entry[0] += row["event_count"]
        entry[1] += row["amount"] if row["event_type"] == "COMMIT_CODE" else 0.0
    all_events = sum(v[0] for v in totals.values())
    all_commits = sum(v[1] for v in totals.values())
    ordered = sorted(totals.items(), key=lambda kv: -kv[1][0])
    ranks: dict[str, int] = {}
    for position, (pid, value) in enumerate(ordered, start=1):
        tied = [r for q, r in ranks.items() if totals[q][0] == value[0]]
        ranks[pid] = tied[0] if tied else position
    return {pid: (int(v[0]), v[0] / all_events, v[1] / all_commits, ranks[pid]) for pid, v in totals.items()}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, pa.Table]]:
    """The first node, publishing its marts (two of them are what the fork reads, one more it ignores)."""
    node = start_node(tmp_path_factory.mktemp("upstream"))
    events, projects = upstream_marts()
    node.catalog.create_namespace("marts")
    for name, data in (("events_daily_to_project", events), ("projects_v1", projects), ("collections_v1", projects)):
        node.catalog.create_table(("marts", name), schema=data.schema).append(data)
    try:
        yield node, events
    finally:
        node.stop()


def test_the_fork_demo_mirrors_the_marts_and_serves_its_own_metric(
    upstream: tuple[Node, pa.Table], tmp_path: Path
) -> None:
    node, events = upstream
    settings = make_settings(tmp_path / "fork")
    printed = io.StringIO()
    result = run_fork_demo(settings, node.uri, console=Console(file=printed, width=200))

    report = result.mirror_report
    assert report is not None and report.ok
    assert {o.table for o in report.outcomes} == {
        "upstream.marts.events_daily_to_project",
        "upstream.marts.projects_v1",
        "upstream.marts.collections_v1",
    }
    assert result.published == {"marts.project_activity_share_v1": PROJECTS}
    expected = expected_metric(events)

    # The gateway of the fork answered with the metric, from the fork's own table.
    body = result.top_projects
    assert body["columns"] == ["project_name", "events", "event_share_pct", "commit_share_pct", "activity_rank"]
    by_name = {f"project-{pid[1:]}": value for pid, value in expected.items()}
    assert len(body["rows"]) == 10
    for name, events_total, event_pct, commit_pct, rank in body["rows"]:
        want = by_name[name]
        assert (events_total, rank) == (want[0], want[3])
        assert event_pct == pytest.approx(round(want[1] * 100, 2))
        assert commit_pct == pytest.approx(round(want[2] * 100, 2))
    assert [row[4] for row in body["rows"]] == sorted(row[4] for row in body["rows"])
    assert "Activity share" in printed.getvalue()

    # The fork node, restarted: its mirrored marts carry provenance; its metric is all there.
    fork = start_catalog(settings)
    try:
        mirrored = fork.catalog.load_table(("upstream", "marts", "events_daily_to_project"))
        assert mirrored.properties[p.SOURCE_NODE] == node.uri
        assert mirrored.properties[p.SOURCE_TABLE_UUID] == str(
            node.catalog.load_table(("marts", "events_daily_to_project")).metadata.table_uuid
        )
        metric = fork.catalog.load_table(("marts", "project_activity_share_v1")).scan().to_arrow().to_pylist()
        assert {r["project_id"]: (r["events"], r["activity_rank"]) for r in metric} == {
            pid: (v[0], v[3]) for pid, v in expected.items()
        }
        for row in metric:
            assert row["event_share"] == pytest.approx(expected[row["project_id"]][1])
            assert row["commit_share"] == pytest.approx(expected[row["project_id"]][2])
        assert sum(r["event_share"] for r in metric) == pytest.approx(1.0)
    finally:
        fork.server.stop()

    # Run again through the CLI: the mirror is up to date, nothing is copied, the metric is unchanged.
    again = subprocess.run(
        [sys.executable, "-m", "commonlake", "demo", "--fork-of", node.uri, "--data-dir", str(settings.data_dir)],
        env={**os.environ, **settings.to_env(), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "0 files, 0 bytes copied" in again.stdout and "Activity share" in again.stdout


def test_the_fork_demo_fails_clearly_when_the_upstream_is_unreachable(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "fork")
    with pytest.raises(ForkDemoError, match="unreachable"):
        run_fork_demo(settings, f"http://127.0.0.1:{free_port()}", console=Console(file=io.StringIO()))


def test_the_fork_reads_exactly_the_columns_the_main_project_publishes(tmp_path: Path) -> None:
    """Guard against drift: the fork's external models must match the upstream marts' columns."""
    from sqlmesh_project.runner import make_context

    declared = {
        entry["name"].split(".")[-1]: entry["columns"]
        for entry in yaml.safe_load((FORK_PROJECT_DIR / "external_models.yaml").read_text())
    }
    context = make_context(Settings(data_dir=tmp_path))
    try:
        for table, columns in declared.items():
            published = context.get_model(f"marts.{table}").columns_to_types
            assert {k: v.sql(dialect="duckdb") for k, v in published.items()} == columns, table
    finally:
        context.close()
