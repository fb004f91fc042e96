"""Fixtures of the gateway tests: a catalog with small OSO-shaped marts and a gateway in front of it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from commonlake.servers import ServerProcess, free_port
from commonlake.settings import Settings
from tests.conftest import RunningCatalog, make_settings, start_catalog
from tests.gateway.marts import FixtureMarts, build_marts

API_KEY = "test-key-0123456789"
TIGHT_KEY = "tight-key-0123456789"


@dataclass
class RunningGateway:
    """A gateway server process and a client that sends the test API key."""

    settings: Settings
    server: ServerProcess
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    def sql(self, query: str, **kwargs) -> httpx.Response:
        """POST /v1/sql with the test key."""
        return self.client.post("/v1/sql", json={"query": query}, **kwargs)


def gateway_settings(settings: Settings, **gateway: object) -> Settings:
    """Settings for a test gateway: a free port, test keys, short limits."""
    defaults: dict[str, object] = {
        "port": free_port(),
        "query_timeout_seconds": 3.0,
        "query_workers": 2,
        "async_wait_seconds": 0.2,
        "api_keys": {
            "tester": {"key": API_KEY, "requests_per_minute": 100_000, "burst": 10_000},
            "tight": {"key": TIGHT_KEY, "requests_per_minute": 6, "burst": 3},
        },
        "anonymous_requests_per_minute": 60,
        "anonymous_burst": 4,
    }
    return settings.with_updates(gateway={**defaults, **gateway})


def start_gateway(settings: Settings, log_name: str = "gateway.log") -> RunningGateway:
    """Start a gateway process for these settings."""
    server = ServerProcess(
        "gateway",
        settings,
        settings.gateway.host,
        settings.gateway.port,
        settings.resolved_data_dir / "logs" / log_name,
    ).start()
    client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60)
    return RunningGateway(settings, server, client)


@pytest.fixture(scope="package")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCatalog]:
    """One catalog server for all the gateway tests (each test writes tables of its own names)."""
    running = start_catalog(make_settings(tmp_path_factory.mktemp("gateway-lake")))
    try:
        yield running
    finally:
        running.server.stop()


@pytest.fixture(scope="package")
def fixture_marts(lake: RunningCatalog) -> FixtureMarts:
    """OSO-shaped marts in the shared catalog."""
    return build_marts(lake.catalog)


@pytest.fixture(scope="package")
def gateway(lake: RunningCatalog, fixture_marts: FixtureMarts) -> Iterator[RunningGateway]:
    """A gateway over the shared catalog."""
    running = start_gateway(gateway_settings(lake.settings))
    try:
        yield running
    finally:
        running.client.close()
        running.server.stop()


def log_of(running: RunningGateway) -> str:
    """The gateway's log, for assertion messages."""
    path: Path = running.server.log_path
    return path.read_text()[-2000:] if path.exists() else ""
