"""GET /v1/tables, /v1/tables/{namespace}.{table}, /v1/projects…, OpenAPI docs and /health."""

from __future__ import annotations

from tests.conftest import RunningCatalog
from tests.gateway.conftest import RunningGateway
from tests.gateway.marts import METRICS, MONTHS, PROJECTS, amount, project_id


def test_list_and_describe_tables(gateway: RunningGateway, lake: RunningCatalog) -> None:
    tables = gateway.client.get("/v1/tables").json()["tables"]
    assert {"marts.projects_v1", "marts.metrics_v0", "marts.timeseries_metrics_by_project_v0"} <= set(tables)
    detail = gateway.client.get("/v1/tables/marts.timeseries_metrics_by_project_v0")
    assert detail.status_code == 200
    body = detail.json()
    table = lake.catalog.load_table("marts.timeseries_metrics_by_project_v0")
    assert [f["name"] for f in body["schema"]] == table.schema().column_names
    assert body["schema"][2] == {"id": 3, "name": "sample_date", "type": "date", "required": False, "doc": None}
    assert body["row_count"] == table.scan().to_arrow().num_rows == len(PROJECTS) * len(METRICS) * len(MONTHS)
    assert body["current_snapshot_id"] == table.current_snapshot().snapshot_id
    assert [s["snapshot_id"] for s in body["snapshots"]] == [s.snapshot_id for s in table.metadata.snapshots]
    assert body["data_files"] == len(PROJECTS)
    assert gateway.client.get("/v1/tables/marts.nope").status_code == 404
    assert gateway.client.get("/v1/tables/no-dot").status_code == 400


def test_search_projects(gateway: RunningGateway) -> None:
    found = gateway.client.get("/v1/projects", params={"q": "DUCK"}).json()["projects"]
    assert [p["project_name"] for p in found] == ["duckdb"]
    assert found[0]["project_id"] == project_id("duckdb")
    everything = gateway.client.get("/v1/projects").json()["projects"]
    assert [p["project_name"] for p in everything] == sorted(PROJECTS)
    quote = gateway.client.get("/v1/projects", params={"q": "it's"})
    assert quote.status_code == 200 and quote.json()["projects"] == []


def test_project_metrics_time_series(gateway: RunningGateway) -> None:
    index = PROJECTS.index("datafusion")
    response = gateway.client.get(
        "/v1/projects/datafusion/metrics",
        params={"metric": ["commits", "stars"], "period": "monthly", "from": "2025-02-01", "to": "2025-04-30"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["project"]["project_name"] == "datafusion" and body["period"] == "monthly"
    by_metric = {s["metric"]: s for s in body["series"]}
    for metric in ("commits", "stars"):
        series = by_metric[metric]
        assert series["metric_name"] == f"GITHUB_{metric}_monthly"
        expected = [
            {"date": month.isoformat(), "amount": amount(index, METRICS.index(metric), i)}
            for i, month in enumerate(MONTHS)
            if "2025-02-01" <= month.isoformat() <= "2025-04-30"
        ]
        assert series["points"] == expected
    assert len(by_metric["commits"]["points"]) == 3


def test_project_metrics_errors(gateway: RunningGateway) -> None:
    unknown_project = gateway.client.get("/v1/projects/no-such/metrics")
    assert unknown_project.status_code == 404 and "no-such" in unknown_project.json()["error"]
    unknown_metric = gateway.client.get("/v1/projects/duckdb/metrics", params={"metric": "karma"})
    assert unknown_metric.status_code == 404 and "GITHUB_karma_monthly" in unknown_metric.json()["error"]
    bad_period = gateway.client.get("/v1/projects/duckdb/metrics", params={"period": "hourly"})
    assert bad_period.status_code == 400 and "period" in bad_period.json()["error"]
    bad_date = gateway.client.get("/v1/projects/duckdb/metrics", params={"from": "yesterday"})
    assert bad_date.status_code == 400


def test_project_key_metrics(gateway: RunningGateway) -> None:
    body = gateway.client.get("/v1/projects/iceberg").json()
    index = PROJECTS.index("iceberg")
    assert body["project"]["project_name"] == "iceberg"
    values = {k["metric_name"]: k["amount"] for k in body["key_metrics"]}
    assert values == {f"GITHUB_{m}_monthly": amount(index, i, 5) for i, m in enumerate(METRICS)}


def test_openapi_and_health(gateway: RunningGateway) -> None:
    spec = gateway.client.get("/openapi.json").json()
    for path in (
        "/v1/sql",
        "/v1/async-sql",
        "/v1/tables",
        "/v1/tables/{qualified_name}",
        "/v1/projects/{name}/metrics",
    ):
        assert path in spec["paths"], path
    # Every error answer of /v1/sql is documented with its body, {"error": "..."}.
    answers = spec["paths"]["/v1/sql"]["post"]["responses"]
    for status in ("400", "404", "408", "500", "503"):
        assert answers[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorModel"}
    assert spec["components"]["schemas"]["ErrorModel"]["required"] == ["error"]
    docs = gateway.client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    for asset in ("/static-offline-docs/swagger-ui-bundle.js", "/static-offline-docs/swagger-ui.css"):
        assert asset in docs.text and gateway.client.get(asset).status_code == 200
    health = gateway.client.get("/health").json()
    assert health["status"] == "ok" and health["cache"]["hits"] >= 0
