"""`commonlake demo` end to end, on the embedded defaults, in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import httpx
import pyarrow.compute as pc
from rich.console import Console

from commonlake.demo import TOP_PROJECTS_SQL, run_demo
from commonlake.servers import ServerProcess
from commonlake.settings import Settings
from tests.conftest import DEMO_SPEC, make_settings, start_catalog

SPEC = DEMO_SPEC


def test_mart_is_in_the_catalog_and_gateway_agrees_with_pyiceberg(demo_dir: Path) -> None:
    settings = make_settings(demo_dir)
    running = start_catalog(settings)
    gateway = ServerProcess(
        "gateway", settings, settings.gateway.host, settings.gateway.port, demo_dir / "logs" / "gateway-test.log"
    )
    try:
        gateway.start()
        catalog = running.catalog
        marts = {".".join(i) for i in catalog.list_tables("marts")}
        assert {"marts.events_daily_to_project", "marts.projects_v1"} <= marts
        raw = {".".join(i) for i in catalog.list_tables("raw")}
        assert {"raw.github_events", "raw.ossd_projects", "raw.ossd_artifacts"} <= raw
        for name in sorted(marts | raw):
            pyiceberg_rows = catalog.load_table(name).scan().to_arrow().num_rows
            answer = httpx.post(
                f"{gateway.url}/v1/sql", json={"query": f"SELECT COUNT(*) AS n FROM {name}"}, timeout=60
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["rows"] == [[pyiceberg_rows]], name
        assert catalog.load_table("marts.projects_v1").scan().to_arrow().num_rows == SPEC.projects

        # The demo's question, answered by the gateway, equals the same sums over PyIceberg's rows.
        answer = httpx.post(f"{gateway.url}/v1/sql", json={"query": TOP_PROJECTS_SQL}, timeout=60).json()
        mart = catalog.load_table("marts.events_daily_to_project").scan().to_arrow()
        events = mart.group_by("project_name").aggregate([("event_count", "sum")])
        expected = dict(zip(events["project_name"].to_pylist(), events["event_count_sum"].to_pylist(), strict=True))
        top = {row[0]: row[-1] for row in answer["rows"]}
        assert len(top) == min(10, len(expected))
        for project, count in top.items():
            assert expected[project] == count
        assert max(expected.values()) == max(top.values())
        assert pc.sum(mart["event_count"]).as_py() > 0
    finally:
        gateway.stop()
        running.server.stop()


def test_second_run_adds_nothing(demo_dir: Path) -> None:
    settings = Settings(data_dir=demo_dir)
    before = _raw_counts(demo_dir)
    result = run_demo(settings, SPEC, console=Console(quiet=True))
    assert all(summary.units_loaded == 0 for summary in result.ingest)
    assert all(summary.rows == 0 for summary in result.ingest)
    assert result.raw_counts == before
    assert result.top_projects["rows"]


def _raw_counts(data_dir: Path) -> dict[str, int]:
    running = start_catalog(make_settings(data_dir))
    try:
        return {
            ".".join(i): running.catalog.load_table(i).scan().to_arrow().num_rows
            for i in running.catalog.list_tables("raw")
        }
    finally:
        running.server.stop()
