"""Mirrored tables through the query gateway: provenance on the table endpoint, queries by NAME.namespace.table."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from commonlake.servers import ServerProcess
from mirror import add_mirror, refresh_mirror
from mirror import properties as p
from tests.mirror.conftest import Node, make_events_table, start_node, unique


@pytest.fixture(scope="module")
def mirrored_gateway(source: Node, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str, Node]]:
    tmp_path = tmp_path_factory.mktemp("gateway")
    node = start_node(tmp_path / "mirroring")
    ns, name = unique("marts"), unique("m")
    make_events_table(source.catalog, ns, days=2)
    add_mirror(node.settings, name, source.uri, ns, "copy")
    assert refresh_mirror(node.settings, name).ok
    gateway = ServerProcess("gateway", node.settings, "127.0.0.1", node.settings.gateway.port, tmp_path / "gw.log")
    try:
        gateway.start()
        yield gateway.url, name, ns, node
    finally:
        gateway.stop()
        node.stop()


def test_the_gateway_table_endpoint_shows_provenance(mirrored_gateway: tuple[str, str, str, Node]) -> None:
    url, name, ns, node = mirrored_gateway
    response = httpx.get(f"{url}/v1/tables/{name}.{ns}.events", timeout=30)
    assert response.status_code == 200, response.text
    properties = response.json()["properties"]
    local = node.catalog.load_table((name, ns, "events"))
    assert properties[p.SOURCE_TABLE_UUID] == local.properties[p.SOURCE_TABLE_UUID]
    assert properties[p.SOURCE_SNAPSHOT_ID] == str(local.current_snapshot().snapshot_id)


def test_the_gateway_answers_queries_on_mirrored_tables(
    mirrored_gateway: tuple[str, str, str, Node], source: Node
) -> None:
    url, name, ns, _ = mirrored_gateway
    response = httpx.post(f"{url}/v1/sql", json={"query": f"SELECT COUNT(*) FROM {name}.{ns}.events"}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [[source.catalog.load_table((ns, "events")).scan().count()]]
