"""POST /v1/sql against a real catalog and gateway: answers equal PyIceberg's; bad input gets a clear 4xx."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from tests.conftest import RunningCatalog
from tests.gateway.conftest import RunningGateway
from tests.gateway.marts import PROJECTS


def _pyiceberg(catalog: RunningCatalog, name: str) -> pa.Table:
    return catalog.catalog.load_table(name).scan().to_arrow()


def test_every_row_equals_pyiceberg(gateway: RunningGateway, lake: RunningCatalog) -> None:
    for name in ("marts.projects_v1", "marts.metrics_v0", "marts.timeseries_metrics_by_project_v0"):
        expected = _pyiceberg(lake, name)
        columns = expected.column_names
        response = gateway.sql(f"SELECT {', '.join(columns)} FROM {name} ORDER BY {', '.join(columns)}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["columns"] == columns and body["truncated"] is False
        rows = sorted(expected.to_pylist(), key=lambda r: tuple(str(r[c]) for c in columns))
        assert [[_plain(v) for v in r.values()] for r in rows] == [[_plain(v) for v in r] for r in body["rows"]]


def _plain(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def test_aggregate_join_equals_python(gateway: RunningGateway, lake: RunningCatalog) -> None:
    series = _pyiceberg(lake, "marts.timeseries_metrics_by_project_v0").to_pylist()
    projects = {r["project_id"]: r["project_name"] for r in _pyiceberg(lake, "marts.projects_v1").to_pylist()}
    expected: dict[str, float] = {}
    for row in series:
        expected[projects[row["project_id"]]] = expected.get(projects[row["project_id"]], 0.0) + row["amount"]
    response = gateway.sql(
        "SELECT p.project_name, SUM(t.amount) AS total FROM marts.timeseries_metrics_by_project_v0 t "
        "JOIN marts.projects_v1 p ON p.project_id = t.project_id GROUP BY p.project_name ORDER BY total DESC"
    )
    assert response.status_code == 200, response.text
    assert {name: total for name, total in response.json()["rows"]} == expected
    assert response.json()["rows"][0][0] == PROJECTS[-1]  # the largest values belong to the last project


def test_oso_style_unqualified_and_aliased_names(gateway: RunningGateway) -> None:
    for query in ("SELECT COUNT(*) FROM projects_v1", "SELECT COUNT(*) FROM oso.projects_v1"):
        response = gateway.sql(query)
        assert response.status_code == 200, response.text
        assert response.json()["rows"] == [[len(PROJECTS)]]


def test_formats_by_accept_header_carry_the_same_rows(gateway: RunningGateway) -> None:
    query = "SELECT project_name, display_name FROM marts.projects_v1 ORDER BY project_name"
    as_json = gateway.sql(query).json()
    expected = pa.table({c: [r[i] for r in as_json["rows"]] for i, c in enumerate(as_json["columns"])})

    arrow = gateway.sql(query, headers={"Accept": "application/vnd.apache.arrow.stream"})
    assert arrow.status_code == 200 and arrow.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert pa.ipc.open_stream(arrow.content).read_all().to_pylist() == expected.to_pylist()

    parquet = gateway.sql(query, headers={"Accept": "application/vnd.apache.parquet"})
    assert parquet.status_code == 200
    assert pq.read_table(io.BytesIO(parquet.content)).to_pylist() == expected.to_pylist()

    csv = gateway.sql(query, headers={"Accept": "text/csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert pa_csv.read_csv(io.BytesIO(csv.content)).to_pylist() == expected.to_pylist()

    by_param = gateway.client.post("/v1/sql?format=csv", json={"query": query})
    assert by_param.content == csv.content

    refused = gateway.sql(query, headers={"Accept": "application/xml"})
    assert refused.status_code == 406 and "supported" in refused.json()["error"]


def test_large_json_results_are_streamed_and_whole(gateway: RunningGateway) -> None:
    query = "SELECT v, v * 2 AS twice FROM generate_series(1, 9000) AS t(v) ORDER BY v"
    with gateway.client.stream("POST", "/v1/sql", json={"query": query}) as response:
        assert response.status_code == 200 and "content-length" not in response.headers
        chunks = list(response.iter_raw())
    body = json.loads(b"".join(chunks))
    assert body["columns"] == ["v", "twice"] and body["truncated"] is False
    assert body["rows"] == [[v, v * 2] for v in range(1, 9001)]


def test_row_limit_truncates_and_says_so(gateway: RunningGateway) -> None:
    total = gateway.sql("SELECT COUNT(*) FROM marts.timeseries_metrics_by_project_v0").json()["rows"][0][0]
    response = gateway.client.post(
        "/v1/sql", json={"query": "SELECT * FROM marts.timeseries_metrics_by_project_v0", "limit": 7}
    )
    body = response.json()
    assert response.status_code == 200 and len(body["rows"]) == 7 and body["truncated"] is True
    full = gateway.client.post(
        "/v1/sql", json={"query": "SELECT * FROM marts.timeseries_metrics_by_project_v0", "limit": total}
    ).json()
    assert len(full["rows"]) == total and full["truncated"] is False
    csv = gateway.client.post(
        "/v1/sql?format=csv", json={"query": "SELECT * FROM marts.timeseries_metrics_by_project_v0", "limit": 7}
    )
    assert csv.headers["x-commonlake-truncated"] == "true" and len(csv.text.strip().splitlines()) == 8


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DROP TABLE marts.projects_v1", "Only SELECT, WITH and EXPLAIN"),
        ("DELETE FROM marts.projects_v1", "Only SELECT, WITH and EXPLAIN"),
        ("INSERT INTO marts.projects_v1 SELECT * FROM marts.projects_v1", "Only SELECT, WITH and EXPLAIN"),
        ("UPDATE marts.projects_v1 SET description = 'x'", "Only SELECT, WITH and EXPLAIN"),
        ("CREATE TABLE marts.x AS SELECT 1", "Only SELECT, WITH and EXPLAIN"),
        ("CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc'", "Only SELECT, WITH and EXPLAIN"),
        ("COPY (SELECT 1) TO '/tmp/out.csv'", "Only SELECT, WITH and EXPLAIN"),
        ("SET datafusion.execution.batch_size = 1", "Only SELECT, WITH and EXPLAIN"),
        ("SELECT 1; SELECT 2", "Exactly one statement"),
        ("SELECT 1; DROP TABLE marts.projects_v1", "Exactly one statement"),
        ("SELECT * FROM read_parquet('/etc/passwd')", "Table function 'read_parquet' is not allowed"),
        ("SELECT * FROM read_csv('/etc/passwd')", "Table function 'read_csv' is not allowed"),
        ("SELECT * INTO marts.copy FROM marts.projects_v1", "read-only"),
        ("WITH d AS (DELETE FROM marts.projects_v1 RETURNING *) SELECT * FROM d", "read-only"),
        ("EXPLAIN DELETE FROM marts.projects_v1", "Only SELECT, WITH and EXPLAIN"),
        ('SELECT * FROM "a.b".c', "no dots or quotes inside a part"),
        ("SELECT * FROM a.b.c.d", "mirror.namespace.table"),
    ],
)
def test_refused_statements_get_a_clear_400(gateway: RunningGateway, query: str, message: str) -> None:
    response = gateway.sql(query)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_explain_is_allowed(gateway: RunningGateway) -> None:
    response = gateway.sql("EXPLAIN SELECT project_name FROM marts.projects_v1 WHERE project_name = 'duckdb'")
    assert response.status_code == 200, response.text
    assert response.json()["columns"] == ["plan_type", "plan"]


@pytest.mark.parametrize("name", ["generate_series", "GENERATE_SERIES", "Range"])
def test_table_functions_in_any_case(gateway: RunningGateway, name: str) -> None:
    # DataFusion finds table functions by their exact lower-case name; SQL function names are case-insensitive.
    response = gateway.sql(f"SELECT SUM(value) AS total FROM {name}(1, 5)", headers={"Cache-Control": "no-cache"})
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [[15 if name.lower() == "generate_series" else 10]]


def test_bad_requests_get_a_clear_4xx(gateway: RunningGateway) -> None:
    client = gateway.client
    bad_json = client.post("/v1/sql", content=b'{"query": ', headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["error"]
    missing = client.post("/v1/sql", json={"sql": "SELECT 1"})
    assert missing.status_code == 400 and "query" in missing.json()["error"]
    empty = client.post("/v1/sql", json={"query": ""})
    assert empty.status_code == 400
    syntax = gateway.sql("SELEC project_name FRM marts.projects_v1")
    assert syntax.status_code == 400 and "syntax error" in syntax.json()["error"].lower()
    unknown = gateway.sql("SELECT * FROM marts.no_such_table")
    assert unknown.status_code == 404 and "marts.no_such_table" in unknown.json()["error"]
    unknown_namespace = gateway.sql("SELECT * FROM nowhere.projects_v1")
    assert unknown_namespace.status_code == 404
    unknown_nested = gateway.sql("SELECT * FROM nowhere.marts.projects_v1")  # a mirror's NAME.namespace.table
    assert unknown_nested.status_code == 404 and "nowhere.marts.projects_v1" in unknown_nested.json()["error"]
    nested = gateway.sql("SELECT " + "(" * 3000 + "1" + ")" * 3000)
    assert nested.status_code == 400, nested.text
    unknown_column = gateway.sql("SELECT no_such_column FROM marts.projects_v1")
    assert unknown_column.status_code == 400 and "no_such_column" in unknown_column.json()["error"]
    # The service is still fine after all that.
    assert gateway.sql("SELECT COUNT(*) FROM marts.projects_v1").json()["rows"] == [[len(PROJECTS)]]
