"""Fixtures of the ingestion tests: hour files written by the tests, a namespace per test, bqemulator."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pyiceberg.catalog import Catalog

from commonlake.servers import free_port
from commonlake.settings import IngestionSettings

ROOT = Path(__file__).resolve().parents[2]
BQ_EMULATOR = ROOT / ".venv-bqemulator" / "bin" / "bqemulator"


def write_hour_file(directory: Path, unit: str, lines: list[str | bytes | dict]) -> Path:
    """A GH Archive hour file ``<unit>.json.gz`` with these lines (dicts are dumped as JSON)."""
    directory.mkdir(parents=True, exist_ok=True)
    body = b"".join(
        (json.dumps(line).encode() if isinstance(line, dict) else line.encode() if isinstance(line, str) else line)
        + b"\n"
        for line in lines
    )
    path = directory / f"{unit}.json.gz"
    path.write_bytes(gzip.compress(body))
    return path


def event(event_id: str, created_at: str, repo: str = "octo/hello", kind: str = "WatchEvent", **extra: object) -> dict:
    """A GH Archive record in the 2015+ layout."""
    owner = repo.split("/")[0]
    return {
        "id": event_id,
        "type": kind,
        "actor": {"id": 1, "login": "mona", "display_login": "mona", "gravatar_id": "", "url": "u", "avatar_url": "a"},
        "repo": {"id": 7, "name": repo, "url": f"https://api.github.com/repos/{repo}"},
        "payload": {"action": "started"},
        "public": True,
        "created_at": created_at,
        "org": {"id": 9, "login": owner, "gravatar_id": "", "url": "o", "avatar_url": "a"},
        **extra,
    }


@pytest.fixture
def ns(request: pytest.FixtureRequest) -> str:
    """A namespace of its own for each test (the catalog server is shared by the module)."""
    return "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:60]


def rows(catalog: Catalog, namespace: str, table: str) -> list[dict]:
    """Every row of a table, through PyIceberg."""
    return catalog.load_table((namespace, table)).scan().to_arrow().to_pylist()


@dataclass
class BigQueryEmulator:
    """A bqemulator server (REST + Storage Read gRPC) on free loopback ports."""

    rest_port: int
    grpc_port: int
    project: str = "commons"

    def settings(self, **changes: object) -> IngestionSettings:
        """Ingestion settings that reach this emulator."""
        values: dict = {
            "bigquery_project": self.project,
            "bigquery_api_endpoint": f"http://127.0.0.1:{self.rest_port}",
            "bigquery_read_endpoint": f"127.0.0.1:{self.grpc_port}",
            "bigquery_anonymous": True,
        }
        return IngestionSettings(**{**values, **changes})


@pytest.fixture(scope="module")
def bq_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryEmulator]:
    """Start bqemulator from its own venv; its DuckDB gets the spatial extension from the wheel, offline."""
    if not BQ_EMULATOR.exists():
        pytest.skip(f"{BQ_EMULATOR} is absent (make install creates it)")
    home = tmp_path_factory.mktemp("bqhome")
    python = BQ_EMULATOR.parent / "python"
    # bqemulator runs INSTALL spatial at start, which would download it; installing it from the
    # duckdb-extension-spatial wheel first makes that a no-op.
    subprocess.run(
        [
            str(python),
            "-c",
            "import duckdb, duckdb_extension_spatial, pathlib;"
            "p = next(pathlib.Path(duckdb_extension_spatial.__file__).parent.rglob('spatial.duckdb_extension'));"
            "duckdb.connect().execute(f\"INSTALL '{p}'\")",
        ],
        check=True,
        env={**os.environ, "HOME": str(home)},
        timeout=120,
    )
    emulator = BigQueryEmulator(free_port(), free_port())
    log = open(home / "bqemulator.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [
            str(BQ_EMULATOR),
            "start",
            "--rest-host",
            "127.0.0.1",
            "--rest-port",
            str(emulator.rest_port),
            "--grpc-host",
            "127.0.0.1",
            "--grpc-port",
            str(emulator.grpc_port),
            "--project",
            emulator.project,
            "--log-level",
            "warning",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HOME": str(home)},
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{emulator.rest_port}/bigquery/v2/projects/{emulator.project}/datasets"
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"bqemulator exited: {(home / 'bqemulator.log').read_text()[-2000:]}")
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            import time

            time.sleep(0.1)
        else:
            raise RuntimeError("bqemulator did not answer within 30 s")
        yield emulator
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(home, ignore_errors=True)
