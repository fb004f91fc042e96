"""The `commonlake ingest` CLI (progress, summary, exit codes) and the HTTP source, against real servers."""

from __future__ import annotations

import functools
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from commonlake.servers import free_port
from ingestion.pipelines import load_gharchive
from ingestion.sources.gharchive import SourceError
from tests.conftest import RunningCatalog
from tests.ingestion.conftest import event, rows, write_hour_file

H0 = datetime(2024, 3, 1, 10, tzinfo=UTC)
H2 = datetime(2024, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def hour_files(tmp_path: Path) -> Path:
    directory = tmp_path / "gharchive"
    write_hour_file(directory, "2024-03-01-10", [event("1", "2024-03-01T10:00:00Z"), "{broken"])
    write_hour_file(directory, "2024-03-01-12", [event("2", "2024-03-01T12:00:00Z")])
    return directory


@pytest.fixture
def http_server(hour_files: Path) -> Iterator[str]:
    """A plain HTTP file server (the protocol data.gharchive.org speaks) over the hour files."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(hour_files))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_http_source_streams_hours_and_reports_gaps(module_catalog: RunningCatalog, ns: str, http_server: str) -> None:
    summary = load_gharchive(module_catalog.catalog, H0, H2, http_server, namespace=ns)
    assert summary.missing_units == ["2024-03-01-11"]  # a 404 is a gap, not a failure of the source
    assert (summary.units_loaded, summary.rows, summary.rejects) == (2, 2, 1)
    assert sorted(r["id"] for r in rows(module_catalog.catalog, ns, "github_events")) == ["1", "2"]


def test_unreachable_http_source_is_a_clear_error(module_catalog: RunningCatalog) -> None:
    with pytest.raises(SourceError, match="unreachable"):
        load_gharchive(module_catalog.catalog, H0, H0, f"http://127.0.0.1:{free_port()}", namespace="t_unreachable")


def cli(running: RunningCatalog, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**running.settings.to_env(), "COLUMNS": "150", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "commonlake", "ingest", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_cli_loads_and_prints_a_summary(running_catalog: RunningCatalog, hour_files: Path) -> None:
    done = cli(
        running_catalog, "gharchive", "--start", "2024-03-01-10", "--end", "2024-03-01-10", "--source", str(hour_files)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for text in ("units loaded", "rows", "rejects", "seconds", "raw.github_events", "raw.rejects"):
        assert text in done.stdout, text
    assert len(rows(running_catalog.catalog, "raw", "github_events")) == 1
    # A gap in the range: the hours there load, the command exits 1 and names the gap.
    gap = cli(
        running_catalog, "gharchive", "--start", "2024-03-01-10", "--end", "2024-03-01-12", "--source", str(hour_files)
    )
    assert gap.returncode == 1 and "missing units: 2024-03-01-11" in gap.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gharchive", "--start", "2024-03-01-12", "--end", "2024-03-01-10", "--source", "."], "Bad hour range"),
        (["gharchive", "--start", "yesterday", "--end", "2024-03-01-10", "--source", "."], "Not an hour"),
        (["gharchive", "--start", "2024-03-01-10", "--end", "2024-03-01-10", "--source", "/nowhere"], "does not exist"),
        (
            ["gharchive", "--start", "2024-03-01-10", "--end", "2024-03-01-10", "--source", "http://127.0.0.1:9"],
            "unreachable",
        ),
        (["ossd", "/nowhere/oss-directory"], "does not exist"),
    ],
)
def test_cli_bad_input_exits_2_with_a_clear_message(
    module_catalog: RunningCatalog, args: list[str], message: str
) -> None:
    done = cli(module_catalog, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error:" in done.stdout and message in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
