"""Shared fixtures: real servers on loopback, each stopped by the test (or module) that started it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from pyiceberg.catalog import Catalog, load_catalog

from commonlake.servers import ServerProcess, free_port
from commonlake.settings import Settings
from ingestion.synthetic import SampleSpec

os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")

# pyspark launches one JVM per process and keeps it after session.stop(): the first Spark
# session's driver memory is every later one's, the `spark` gateway's included.
SPARK_DRIVER_MEMORY = Settings().models.spark_driver_memory

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"
SHARED_DATA = SHARED_DIR / "data"


def shared_file(name: str) -> Path:
    """A file of ../shared/data, or skip the test with a clear message when absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared is not beside this checkout); this test needs the real data")
    return path


@dataclass
class RunningCatalog:
    """A catalog server in a child process, and a PyIceberg RestCatalog attached to it."""

    settings: Settings
    server: ServerProcess
    catalog: Catalog

    @property
    def uri(self) -> str:
        return self.server.url


def make_settings(data_dir: Path, **changes: object) -> Settings:
    """Settings for a test: its own data directory and free loopback ports."""
    base = Settings(data_dir=data_dir)
    return base.with_updates(
        catalog={"host": "127.0.0.1", "port": free_port()},
        gateway={"host": "127.0.0.1", "port": free_port()},
        **changes,
    )


def start_catalog(settings: Settings, workers: int = 1) -> RunningCatalog:
    """Start a catalog server for these settings and connect PyIceberg to it."""
    server = ServerProcess(
        "catalog",
        settings,
        settings.catalog.host,
        settings.catalog.port,
        settings.resolved_data_dir / "logs" / "catalog.log",
        workers=workers,
    ).start()
    catalog = load_catalog("test", **settings.rest_catalog_properties())
    return RunningCatalog(settings, server, catalog)


@pytest.fixture
def running_catalog(tmp_path: Path) -> Iterator[RunningCatalog]:
    """A fresh catalog server (SQLite + file:// warehouse in tmp_path) for one test."""
    running = start_catalog(make_settings(tmp_path / "lake"))
    try:
        yield running
    finally:
        running.server.stop()


@pytest.fixture(scope="module")
def module_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCatalog]:
    """A catalog server shared by the tests of one module."""
    running = start_catalog(make_settings(tmp_path_factory.mktemp("lake")))
    try:
        yield running
    finally:
        running.server.stop()


# The sample of the one demo run tests share (see demo_dir): the CLI has no events-per-hour option.
DEMO_SPEC = SampleSpec(seed=11, projects=10, days=3, start=date(2025, 9, 1))  # what the CLI options below generate


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory on which the demo has run once, through the real CLI (shared: a demo takes a while)."""
    data_dir = tmp_path_factory.mktemp("demo")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "commonlake",
            "demo",
            "--data-dir",
            str(data_dir),
            "--days",
            str(DEMO_SPEC.days),
            "--projects",
            str(DEMO_SPEC.projects),
            "--seed",
            str(DEMO_SPEC.seed),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Most active projects" in done.stdout
    assert "ATTACH" in done.stdout and "load_catalog" in done.stdout
    return data_dir
