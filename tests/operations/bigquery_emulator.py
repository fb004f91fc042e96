"""The real BigQuery emulator (``bqemulator``) as a test server, and a client for it.

The emulator lives in its own virtual environment (its sqlglot pin conflicts with
SQLMesh's) and runs only as a server process. It needs DuckDB's spatial extension, which
it would download; the ``duckdb-extension-spatial`` wheel in that environment carries it,
and it is installed into a private HOME before the server starts, so nothing is fetched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from commonlake.servers import free_port
from commonlake.settings import ExportSettings

REPO = Path(__file__).resolve().parents[2]
BQ_VENV = REPO / ".venv-bqemulator"
PROJECT = "commonlake-test"

_INSTALL_EXTENSIONS = """
import pathlib, duckdb
con = duckdb.connect()
for module in ("duckdb_extension_spatial", "duckdb_extension_avro"):
    try:
        package = __import__(module)
    except ImportError:
        if module.endswith("spatial"):
            raise
        continue
    for path in pathlib.Path(package.__file__).parent.rglob("*.duckdb_extension"):
        con.execute(f"INSTALL '{path}'")
"""


@dataclass
class BigQueryEmulator:
    """A running emulator."""

    process: subprocess.Popen
    port: int
    grpc_port: int
    log: Path

    @property
    def endpoint(self) -> str:
        """REST endpoint for ``client_options.api_endpoint``."""
        return f"http://127.0.0.1:{self.port}"

    def export_settings(self, dataset: str | None = None) -> ExportSettings:
        """Export settings that reach this emulator without credentials."""
        return ExportSettings(
            bigquery_project=PROJECT,
            bigquery_dataset=dataset,
            bigquery_api_endpoint=self.endpoint,
            bigquery_anonymous=True,
        )

    def ingestion_settings(self) -> dict:
        """``Settings.ingestion`` changes for reading from this emulator (REST and Storage Read over gRPC)."""
        return {
            "bigquery_project": PROJECT,
            "bigquery_api_endpoint": self.endpoint,
            "bigquery_read_endpoint": f"127.0.0.1:{self.grpc_port}",
            "bigquery_anonymous": True,
        }

    def client(self):
        """A real google-cloud-bigquery client on the emulator."""
        from google.api_core.client_options import ClientOptions
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import bigquery

        return bigquery.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),
            client_options=ClientOptions(api_endpoint=self.endpoint),
        )

    def stop(self) -> None:
        """Stop the server."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_emulator(directory: Path, timeout: float = 60.0) -> BigQueryEmulator:
    """Start ``bqemulator`` on free loopback ports (skips when its environment is missing)."""
    binary = BQ_VENV / "bin" / "bqemulator"
    if not binary.exists():
        pytest.skip(f"{binary} is missing: `make test` creates .venv-bqemulator")
    home = directory / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home)}
    installed = subprocess.run(
        [str(BQ_VENV / "bin" / "python"), "-c", _INSTALL_EXTENSIONS], env=env, capture_output=True, text=True
    )
    if installed.returncode != 0:
        pytest.skip(
            "bqemulator needs DuckDB's spatial extension offline: install duckdb==1.5.5, "
            f"duckdb-extension-spatial==1.5.5 and numpy into .venv-bqemulator ({installed.stderr.strip()[-200:]})"
        )
    port, grpc_port = free_port(), free_port()
    log = directory / "bqemulator.log"
    command = [
        str(binary),
        "start",
        "--rest-host",
        "127.0.0.1",
        "--rest-port",
        str(port),
        "--grpc-host",
        "127.0.0.1",
        "--grpc-port",
        str(grpc_port),
        "--project",
        PROJECT,
        "--ephemeral",
    ]
    with open(log, "ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    emulator = BigQueryEmulator(process, port, grpc_port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bqemulator exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{emulator.endpoint}/bigquery/v2/projects/{PROJECT}/datasets", timeout=1).status_code == 200:
                return emulator
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    emulator.stop()
    raise RuntimeError(f"bqemulator did not answer within {timeout}s: {log.read_text()[-2000:]}")
