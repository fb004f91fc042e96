"""Limits: per-query timeout, memory limit, and one bad query never takes the service down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import psutil
import pyarrow as pa

from tests.conftest import RunningCatalog, make_settings, start_catalog
from tests.gateway.conftest import API_KEY, RunningGateway, gateway_settings, start_gateway
from tests.gateway.marts import FixtureMarts

SLOW = "SELECT COUNT(*) FROM generate_series(1, 100000000000)"


def test_timeout_stops_the_query_and_the_service_keeps_answering(gateway: RunningGateway) -> None:
    outcome: dict[str, httpx.Response] = {}

    def slow() -> None:
        with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
            outcome["slow"] = client.post("/v1/sql", json={"query": SLOW}, timeout=60)

    began = time.monotonic()
    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.3)
    # While the slow query burns a worker, other requests are answered promptly.
    health = gateway.client.get("/health")
    quick = gateway.sql("SELECT COUNT(*) FROM marts.projects_v1")
    assert health.status_code == 200 and quick.status_code == 200 and quick.json()["rows"] == [[5]]
    assert not outcome, "the quick query must not wait for the slow one"
    thread.join(30)
    elapsed = time.monotonic() - began
    response = outcome["slow"]
    assert response.status_code == 408, response.text
    assert "time limit of 3 s" in response.json()["error"]
    assert elapsed < 3.0 + 5.0
    # The killed worker was replaced: queries keep working, several times over.
    for _ in range(4):
        assert gateway.sql("SELECT COUNT(*) FROM marts.projects_v1").status_code == 200


def test_memory_limit_gives_a_clear_error(lake: RunningCatalog, tmp_path: Path) -> None:
    settings = gateway_settings(
        lake.settings.with_updates(data_dir=str(tmp_path)),
        memory_limit_bytes=2 * 1024 * 1024,
        query_workers=1,
    )
    running = start_gateway(settings)
    try:
        response = running.sql(
            "SELECT v % 1000003 AS k, COUNT(*) AS n FROM generate_series(1, 3000000) AS t(v) GROUP BY 1 ORDER BY 2 DESC"
        )
        assert response.status_code == 400, response.text
        assert "more memory than the engine's limit" in response.json()["error"]
        assert running.sql("SELECT 1 AS one").json()["rows"] == [[1]]
    finally:
        running.client.close()
        running.server.stop()


def test_cli_options_set_the_time_limit(lake: RunningCatalog, tmp_path: Path) -> None:
    settings = gateway_settings(lake.settings.with_updates(data_dir=str(tmp_path)))
    command = [sys.executable, "-m", "commonlake", "serve", "gateway", "--query-timeout", "1", "--query-workers", "1"]
    command += ["--port", str(settings.gateway.port)]
    process = subprocess.Popen(
        command,
        env={**os.environ, **settings.to_env()},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{settings.gateway.port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        response = httpx.post(
            f"{url}/v1/sql", json={"query": SLOW}, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
        )
        assert response.status_code == 408 and "time limit of 1 s" in response.json()["error"]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def test_catalog_outage_is_a_clear_503_and_the_gateway_recovers(tmp_path: Path) -> None:
    running = start_catalog(make_settings(tmp_path / "lake"))
    running.catalog.create_namespace("marts")
    gateway = start_gateway(gateway_settings(running.settings))
    try:
        assert gateway.sql("SELECT 1 AS one").status_code == 200
        running.server.stop()
        down = gateway.sql("SELECT * FROM marts.anything")
        assert down.status_code == 503 and "catalog is unreachable" in down.json()["error"]
        assert gateway.client.get("/health").status_code == 200
        running.server.start()
        assert gateway.sql("SELECT * FROM marts.anything").status_code == 404
    finally:
        gateway.client.close()
        gateway.server.stop()
        running.server.stop()


def _query_workers(running: RunningGateway) -> list[psutil.Process]:
    """The gateway's query worker processes: the children of its multiprocessing forkserver."""
    assert running.server.process is not None
    gateway = psutil.Process(running.server.process.pid)
    forkservers = [p for p in gateway.children() if "multiprocessing.forkserver" in " ".join(p.cmdline())]
    return [worker for server in forkservers for worker in server.children()]


def _one_worker(running: RunningGateway) -> psutil.Process:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        workers = _query_workers(running)
        if len(workers) == 1:
            return workers[0]
        time.sleep(0.1)
    raise AssertionError(f"expected one query worker, found {_query_workers(running)}")


def test_a_worker_dying_mid_query_is_a_clear_error_and_the_service_keeps_answering(
    lake: RunningCatalog, fixture_marts: FixtureMarts, tmp_path: Path
) -> None:
    settings = gateway_settings(
        lake.settings.with_updates(data_dir=str(tmp_path)), query_workers=1, query_timeout_seconds=120
    )
    running = start_gateway(settings)
    try:
        assert running.sql("SELECT COUNT(*) FROM marts.projects_v1").json()["rows"] == [[5]]
        worker = _one_worker(running)
        busy_from = sum(worker.cpu_times()[:2])
        outcome: dict[str, httpx.Response] = {}
        thread = threading.Thread(target=lambda: outcome.update(slow=running.sql(SLOW)))
        thread.start()
        deadline = time.monotonic() + 30
        while sum(worker.cpu_times()[:2]) - busy_from < 0.5 and time.monotonic() < deadline:
            time.sleep(0.05)  # until the worker is surely running the slow query
        worker.kill()  # what the kernel's OOM killer does
        thread.join(60)
        response = outcome["slow"]
        assert response.status_code == 500, response.text
        assert set(response.json()) == {"error"}
        assert "worker process died (killed by SIGKILL)" in response.json()["error"], response.text
        # A new worker took its place: the next queries are answered, not failed.
        for _ in range(3):
            again = running.sql("SELECT COUNT(*) FROM marts.projects_v1", headers={"Cache-Control": "no-cache"})
            assert again.status_code == 200 and again.json()["rows"] == [[5]], again.text
        assert _one_worker(running).pid != worker.pid
    finally:
        running.client.close()
        running.server.stop()


def test_an_idle_worker_dying_does_not_fail_the_next_queries(
    lake: RunningCatalog, fixture_marts: FixtureMarts, tmp_path: Path
) -> None:
    settings = gateway_settings(lake.settings.with_updates(data_dir=str(tmp_path)), query_workers=1)
    running = start_gateway(settings)
    try:
        assert running.sql("SELECT COUNT(*) FROM marts.projects_v1").status_code == 200
        # Queried at once, and after the pool noticed the death (pebble then refuses new tasks).
        for settle in (0.0, 1.0):
            worker = _one_worker(running)
            worker.kill()
            time.sleep(settle)
            for _ in range(3):
                again = running.sql("SELECT COUNT(*) FROM marts.projects_v1", headers={"Cache-Control": "no-cache"})
                assert again.status_code == 200 and again.json()["rows"] == [[5]], again.text
    finally:
        running.client.close()
        running.server.stop()


def test_a_table_whose_files_are_gone_is_a_clear_500(gateway: RunningGateway, lake: RunningCatalog) -> None:
    schema = pa.schema([("id", pa.int64())])
    table = lake.catalog.create_table("marts.lost_files", schema=schema)
    table.append(pa.table({"id": [1, 2]}, schema=schema))
    manifest_list = table.current_snapshot().manifest_list
    Path(manifest_list.removeprefix("file://")).unlink()
    response = gateway.sql("SELECT COUNT(*) FROM marts.lost_files")
    assert response.status_code == 500, response.text
    assert set(response.json()) == {"error"}
    assert "failed in the engine: FileNotFoundError" in response.json()["error"], response.text
    assert gateway.sql("SELECT COUNT(*) FROM marts.projects_v1").json()["rows"] == [[5]]
