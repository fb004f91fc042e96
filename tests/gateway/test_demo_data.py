"""End to end on the demo's data: the gateway's answers equal PyIceberg's for every table the pipeline wrote."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from tests.conftest import RunningCatalog, make_settings, start_catalog
from tests.gateway.conftest import RunningGateway, gateway_settings, start_gateway


@pytest.fixture(scope="module")
def demo_lake(demo_dir: Path) -> Iterator[tuple[RunningCatalog, RunningGateway]]:
    """The shared demo's lake (tests/conftest.py) behind a catalog and a gateway of its own."""
    running = start_catalog(make_settings(demo_dir))
    gateway = start_gateway(gateway_settings(running.settings))
    try:
        yield running, gateway
    finally:
        gateway.client.close()
        gateway.server.stop()
        running.server.stop()


def _rows(table: pa.Table) -> list[tuple]:
    return sorted(tuple(repr(v) for v in row.values()) for row in table.to_pylist())


def test_every_demo_table_equals_pyiceberg(demo_lake: tuple[RunningCatalog, RunningGateway]) -> None:
    running, gateway = demo_lake
    # The public layers (SQLMesh's physical tables are there too, hundreds of them, read the same way).
    names = [n for n in gateway.client.get("/v1/tables").json()["tables"] if n.startswith(("raw.", "marts."))]
    assert any(n.startswith("raw.") for n in names) and any(n.startswith("marts.") for n in names)
    for name in names:
        expected = running.catalog.load_table(name).scan().to_arrow()
        response = gateway.client.post(
            "/v1/sql",
            json={"query": f"SELECT * FROM {name}", "limit": 1_000_000},
            headers={"Accept": "application/vnd.apache.arrow.stream"},
        )
        assert response.status_code == 200, (name, response.text)
        answer = pa.ipc.open_stream(response.content).read_all()
        assert answer.column_names == expected.column_names, name
        assert answer.num_rows == expected.num_rows, name
        assert _rows(answer) == _rows(expected), name


def test_demo_question_and_project_lookups(demo_lake: tuple[RunningCatalog, RunningGateway]) -> None:
    running, gateway = demo_lake
    mart = running.catalog.load_table("marts.events_daily_to_project").scan().to_arrow()
    project = mart["project_name"][0].as_py()
    expected = sum(
        r["amount"] for r in mart.to_pylist() if r["project_name"] == project and r["event_type"] == "COMMIT_CODE"
    )
    answer = gateway.sql(
        "SELECT SUM(amount) FROM marts.events_daily_to_project "
        f"WHERE project_name = '{project}' AND event_type = 'COMMIT_CODE'"
    ).json()
    assert answer["rows"] == [[expected if expected else None]] or answer["rows"] == [[expected]]
    found = gateway.client.get("/v1/projects", params={"q": project}).json()["projects"]
    assert project in [p["project_name"] for p in found]
    assert "marts.timeseries_metrics_by_project_v0" in gateway.client.get("/v1/tables").json()["tables"]
    series = gateway.client.get(f"/v1/projects/{project}/metrics", params={"metric": "commits", "period": "daily"})
    assert series.status_code == 200, series.text
    points = series.json()["series"][0]["points"]
    table = running.catalog.load_table("marts.timeseries_metrics_by_project_v0").scan().to_arrow().to_pylist()
    metric = series.json()["series"][0]["metric_id"]
    project_id = series.json()["project"]["project_id"]
    expected_points = sorted(
        (r["sample_date"].isoformat(), r["amount"])
        for r in table
        if r["metric_id"] == metric and r["project_id"] == project_id
    )
    assert [(p["date"], p["amount"]) for p in points] == expected_points
