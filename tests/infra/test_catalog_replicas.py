"""Scale-out: two catalog replicas on one PostgreSQL database, behind HAProxy, serving the same tables.

Commits go through both replicas (in turn and concurrently); none is lost, both replicas
and the load balancer serve the same metadata.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg2
import pyarrow as pa
import pytest
from pyiceberg.catalog import load_catalog

from commonlake.servers import ServerProcess, free_port
from commonlake.settings import Settings
from tests.conftest import make_settings

INFRA = Path(__file__).resolve().parents[2] / "infra"
PG_ADMIN = "dbname=postgres user=postgres host=127.0.0.1 port=5432"
pytestmark = pytest.mark.postgres


@pytest.fixture
def database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    try:
        admin = psycopg2.connect(PG_ADMIN, connect_timeout=3)
    except psycopg2.OperationalError:
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432")
    admin.autocommit = True
    name = f"commonlake_replicas_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def replicas(database: str, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Two `commonlake serve catalog` processes on the same database and warehouse."""
    base = make_settings(tmp_path / "lake").with_updates(catalog={"database_url": database})
    servers = []
    try:
        for index in (1, 2):
            port = free_port()
            settings = base.with_updates(catalog={"port": port})
            log = tmp_path / f"replica{index}.log"
            servers.append(ServerProcess("catalog", settings, "127.0.0.1", port, log).start())
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def balancer(replicas: list[ServerProcess], tmp_path: Path) -> Iterator[str]:
    """HAProxy running infra/catalog/haproxy.cfg in front of the replicas."""
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    port = free_port()
    env = {
        **os.environ,
        "COMMONLAKE_LB_BIND": f"127.0.0.1:{port}",
        "COMMONLAKE_REPLICA_1": f"127.0.0.1:{replicas[0].port}",
        "COMMONLAKE_REPLICA_2": f"127.0.0.1:{replicas[1].port}",
    }
    with open(tmp_path / "haproxy.log", "wb") as log:
        process = subprocess.Popen(
            [haproxy, "-db", "-f", str(INFRA / "catalog" / "haproxy.cfg")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


def _client(settings: Settings, uri: str):
    return load_catalog(f"replica-{uri}", **{**settings.rest_catalog_properties(), "uri": uri})


def test_two_replicas_serve_the_same_tables_with_commits_through_both(
    replicas: list[ServerProcess], balancer: str
) -> None:
    settings = replicas[0].settings
    first, second = (_client(settings, server.url) for server in replicas)
    first.create_namespace("shared")
    schema = pa.schema([("writer", pa.string()), ("n", pa.int64())])
    first.create_table("shared.commits", schema=schema)
    assert ("shared", "commits") in second.list_tables("shared"), "created through one, listed by the other"

    # In turn: each replica commits on top of what the other committed.
    for n in range(4):
        client = first if n % 2 == 0 else second
        client.load_table("shared.commits").append(pa.table({"writer": [f"turn-{n}"], "n": [n]}, schema=schema))

    # At once: both replicas race; conflicting commits are refused (409) and retried, never lost.
    def append(args: tuple[int, object]) -> None:
        n, client = args
        client.load_table("shared.commits").append(pa.table({"writer": [f"race-{n}"], "n": [n]}, schema=schema))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(append, [(n, first if n % 2 else second) for n in range(8)]))

    through_balancer = _client(settings, balancer).load_table("shared.commits")
    rows = through_balancer.scan().to_arrow()
    assert sorted(rows["writer"].to_pylist()) == sorted(
        [f"turn-{n}" for n in range(4)] + [f"race-{n}" for n in range(8)]
    )
    one, two = first.load_table("shared.commits"), second.load_table("shared.commits")
    assert one.metadata_location == two.metadata_location == through_balancer.metadata_location
    assert len(one.metadata.snapshots) == 12, "every commit is a snapshot: none was lost or applied twice"


def test_the_balancer_keeps_serving_when_a_replica_stops(replicas: list[ServerProcess], balancer: str) -> None:
    settings = replicas[0].settings
    client = _client(settings, balancer)
    client.create_namespace("failover")
    replicas[0].stop()
    time.sleep(5)  # two failed health checks (2 s apart) take the replica out of the pool
    for n in range(4):
        assert ("failover",) in client.list_namespaces(), f"request {n} answered by the remaining replica"
