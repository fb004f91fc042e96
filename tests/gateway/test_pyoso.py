"""The Open Source Observer client contract, exercised with the real pyoso package."""

from __future__ import annotations

import json
import time

import httpx
import pandas as pd
import pytest
from pyoso import Client, ClientConfig
from pyoso.exceptions import OsoHTTPError

from tests.conftest import RunningCatalog
from tests.gateway.conftest import API_KEY, RunningGateway
from tests.gateway.marts import PROJECTS


@pytest.fixture
def oso(gateway: RunningGateway) -> Client:
    return Client(API_KEY, ClientConfig(base_url=f"{gateway.url}/v1/"))


def test_pyoso_to_pandas_equals_pyiceberg(oso: Client, lake: RunningCatalog) -> None:
    frame = oso.to_pandas("SELECT project_id, project_name, display_name FROM projects_v1 ORDER BY project_name")
    expected = (
        lake.catalog.load_table("marts.projects_v1")
        .scan(selected_fields=("project_id", "project_name", "display_name"))
        .to_pandas()
        .sort_values("project_name")
        .reset_index(drop=True)
    )
    pd.testing.assert_frame_equal(frame, expected.convert_dtypes(), check_dtype=False)
    assert list(frame["project_name"]) == sorted(PROJECTS)


def test_pyoso_trino_sql_with_aggregates_and_dates(oso: Client) -> None:
    frame = oso.to_pandas(
        "SELECT p.project_name, COUNT(*) AS months, MAX(t.sample_date) AS latest "
        "FROM oso.timeseries_metrics_by_project_v0 AS t JOIN oso.projects_v1 AS p ON p.project_id = t.project_id "
        "WHERE t.sample_date >= DATE '2025-01-01' GROUP BY 1 ORDER BY 1"
    )
    assert list(frame["project_name"]) == sorted(PROJECTS)
    assert set(frame["months"]) == {18}  # 3 metrics x 6 months
    assert set(frame["latest"]) == {"2025-06-01"}


def _async_rows(gateway: RunningGateway, query: str) -> list[list]:
    """Run ``query`` (Trino SQL, sent as is) through /v1/async-sql; the result's rows."""
    body = gateway.client.post("/v1/async-sql", json={"query": query}).json()
    deadline = time.monotonic() + 30
    while body["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        body = gateway.client.get("/v1/async-sql", params={"id": body["id"]}).json()
    assert body["status"] == "completed", body
    return [json.loads(line) for line in httpx.get(body["url"]).text.strip().splitlines()[1:]]


def test_trino_generate_series_reaches_datafusion(gateway: RunningGateway, oso: Client) -> None:
    # sqlglot writes generate_series (Trino's sequence too) as GENERATE_SERIES, which DataFusion's table functions lack.
    assert _async_rows(gateway, "SELECT SUM(x), COUNT(*) FROM generate_series(1, 10) AS t(x)") == [[55, 10]]
    calendar = _async_rows(
        gateway,
        "SELECT m.month, COUNT(t.amount) FROM generate_series(1, 8) AS m(month) "
        "LEFT JOIN timeseries_metrics_by_project_v0 AS t ON EXTRACT(MONTH FROM t.sample_date) = m.month "
        "GROUP BY 1 ORDER BY 1",
    )
    per_month = len(PROJECTS) * 3  # each project has 3 monthly metrics in months 1-6
    assert calendar == [[m, per_month if m <= 6 else 0] for m in range(1, 9)]
    days = "SELECT COUNT(*) FROM UNNEST(sequence(DATE '2025-01-01', DATE '2025-03-01', INTERVAL '1' DAY)) AS t(d)"
    assert _async_rows(gateway, days) == [[60]]
    # pyoso rewrites generate_series as UNNEST(SEQUENCE(…)) before sending it; that runs too.
    frame = oso.to_pandas("SELECT COUNT(*) AS n FROM generate_series(1, 10)")
    assert frame.to_dict("records") == [{"n": 10}]


def test_trino_date_part_functions_reach_datafusion(gateway: RunningGateway) -> None:
    # DataFusion has no month(), year() …; they run as EXTRACT with Trino's values (ISO weekday: Sunday is 7).
    day = "DATE '2025-09-07'"  # a Sunday
    query = (
        f"SELECT year({day}), quarter({day}), month({day}), week({day}), day({day}), "
        f"day_of_year({day}), day_of_week({day})"
    )
    assert _async_rows(gateway, query) == [[2025, 3, 9, 36, 7, 250, 7]]
    by_month = _async_rows(
        gateway,
        "SELECT month(sample_date) AS m, COUNT(*) FROM timeseries_metrics_by_project_v0 GROUP BY 1 ORDER BY 1",
    )
    assert [row[0] for row in by_month] == list(range(1, 7))


def test_pyoso_errors_carry_the_gateway_message(oso: Client) -> None:
    with pytest.raises(OsoHTTPError) as unknown:
        oso.to_pandas("SELECT * FROM no_such_mart")
    assert "Table not found: marts.no_such_mart" in str(unknown.value)
    with pytest.raises(OsoHTTPError) as refused:
        oso.to_pandas("DELETE FROM projects_v1")
    assert "Only SELECT" in str(refused.value)


def test_a_query_failing_while_it_runs_is_reported_failed(oso: Client, gateway: RunningGateway) -> None:
    with pytest.raises(OsoHTTPError, match="failed"):
        oso.to_pandas("SELECT CAST(project_name AS INTEGER) FROM projects_v1")
    started = gateway.client.post(
        "/v1/async-sql", json={"query": "SELECT CAST(project_name AS INTEGER) FROM projects_v1"}
    )
    body = started.json()
    if body["status"] != "failed":
        time.sleep(1)
        body = gateway.client.get("/v1/async-sql", params={"id": body["id"]}).json()
    assert body["status"] == "failed" and "url" not in body
    assert "Cannot cast" in body["error"] or "cast" in body["error"].lower()
    assert gateway.client.get(f"/v1/async-sql/results/{body['id']}").status_code == 409


def test_async_sql_status_polling_and_capability_url(gateway: RunningGateway) -> None:
    # A query longer than async_wait_seconds (0.2 s here) answers 'running' first, then completes.
    slow = "SELECT COUNT(*) AS n FROM UNNEST(SEQUENCE(1, 1500000)) AS t(v)"
    started = gateway.client.post("/v1/async-sql", json={"query": slow})
    assert started.status_code == 200, started.text
    body = started.json()
    assert set(body) >= {"id", "status"}
    deadline = time.monotonic() + 30
    seen = {body["status"]}
    while body["status"] not in ("completed", "failed", "canceled") and time.monotonic() < deadline:
        time.sleep(0.2)
        body = gateway.client.get("/v1/async-sql", params={"id": body["id"]}).json()
        seen.add(body["status"])
    assert body["status"] == "completed", body
    assert seen & {"queued", "running"}, seen
    # The result URL works without credentials (pyoso fetches it so) and is JSON lines.
    lines = httpx.get(body["url"]).text.strip().splitlines()
    assert lines == ['["n"]', "[1500000]"]
    # Another client cannot see the query's status.
    other = httpx.get(f"{gateway.url}/v1/async-sql", params={"id": body["id"]})
    assert other.status_code == 404
    assert gateway.client.get("/v1/async-sql", params={"id": "nope"}).status_code == 404
    assert httpx.get(f"{gateway.url}/v1/async-sql/results/nope").status_code == 404


def test_a_running_async_query_can_be_canceled_and_the_workers_recover(gateway: RunningGateway) -> None:
    endless = (  # 10^11 rows: runs far longer than the test
        "SELECT COUNT(*) AS n FROM UNNEST(SEQUENCE(1, 100000)) AS a(x) CROSS JOIN UNNEST(SEQUENCE(1, 1000000)) AS b(y)"
    )
    body = gateway.client.post("/v1/async-sql", json={"query": endless}).json()
    deadline = time.monotonic() + 30
    while body["status"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.1)
        body = gateway.client.get("/v1/async-sql", params={"id": body["id"]}).json()
    assert body["status"] == "running", body
    # Only its owner can cancel it.
    assert httpx.delete(f"{gateway.url}/v1/async-sql", params={"id": body["id"]}).status_code == 404
    canceled = gateway.client.delete("/v1/async-sql", params={"id": body["id"]})
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert gateway.client.get("/v1/async-sql", params={"id": body["id"]}).json()["status"] == "canceled"
    assert gateway.client.get(f"/v1/async-sql/results/{body['id']}").status_code == 409
    # The killed worker was replaced: queries keep being answered.
    again = gateway.client.post("/v1/async-sql", json={"query": "SELECT 41 + 1 AS n"}).json()
    deadline = time.monotonic() + 30
    while again["status"] not in ("completed", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        again = gateway.client.get("/v1/async-sql", params={"id": again["id"]}).json()
    assert again["status"] == "completed", again
    assert httpx.get(again["url"]).text.strip().splitlines() == ['["n"]', "[42]"]
