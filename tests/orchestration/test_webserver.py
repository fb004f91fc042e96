"""`commonlake orchestrate ui` serves Dagster's UI with the complete asset graph (queried over GraphQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from commonlake.servers import free_port
from orchestration.model_graph import ModelNode

ASSETS_QUERY = "{ assetNodes { assetKey { path } } }"
pytestmark = pytest.mark.slow  # dagster dev starts a webserver, a daemon and a code server


def test_the_ui_serves_the_whole_asset_graph(model_nodes: list[ModelNode], tmp_path: Path) -> None:
    port, catalog_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("COMMONLAKE_", "DAGSTER_"))},
        "COMMONLAKE_CATALOG__PORT": str(catalog_port),
        "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1",
    }
    command = [sys.executable, "-m", "commonlake", "orchestrate", "ui", "--host", "127.0.0.1", "--port", str(port)]
    log = open(tmp_path / "ui.log", "wb")  # noqa: SIM115 (closed below, after the process)
    process = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path / "lake")], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        paths = None
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline and process.poll() is None:
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": ASSETS_QUERY}, timeout=10)
                nodes = answer.json().get("data", {}).get("assetNodes")
                if nodes:
                    paths = {"/".join(node["assetKey"]["path"]) for node in nodes}
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(2)
        assert paths is not None, (tmp_path / "ui.log").read_text()[-3000:]
        marts = [node.name.split(".")[1] for node in model_nodes if node.schema == "marts"]
        expected = {"raw/github_events", "raw/ossd_projects", "raw/ossd_collections", "raw/ossd_artifacts"}
        expected |= {node.key.to_user_string() for node in model_nodes} | {f"marts/{name}" for name in marts}
        assert paths == expected
        assert httpx.get(f"http://127.0.0.1:{catalog_port}/health", timeout=5).status_code == 200, "catalog started"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{catalog_port}/health", timeout=2)
