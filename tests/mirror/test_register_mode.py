"""Register mode: two nodes on one SeaweedFS server whose bucket both read; zero copy, read-only, refreshable."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import duckdb
import pytest
from botocore.config import Config
from pyiceberg.exceptions import ForbiddenError

from commonlake.seaweedfs import SeaweedFS
from mirror import add_mirror, plan_refresh, refresh_mirror, remove_mirror
from mirror import properties as p
from tests.mirror.conftest import Node, events_batch, make_events_table, rows_of, start_node, unique


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture(scope="module")
def node_a(seaweed: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = start_node(tmp_path_factory.mktemp("node-a"), **seaweed.settings_changes("node-a"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def node_b(seaweed: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = start_node(tmp_path_factory.mktemp("node-b"), **seaweed.settings_changes("node-b"))
    try:
        yield node
    finally:
        node.stop()


def keys(server: SeaweedFS, prefix: str) -> set[str]:
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix=prefix)
    return {obj["Key"] for page in pages for obj in page.get("Contents", []) if not obj["Key"].endswith("/")}


def test_register_mode_reads_the_remote_files_in_place_and_follows_new_snapshots(
    seaweed: SeaweedFS, node_a: Node, node_b: Node
) -> None:
    ns, name = unique("marts"), unique("reg")
    table = make_events_table(node_a.catalog, ns, days=2)
    make_events_table(node_a.catalog, ns, "other", days=1)
    source_keys = keys(seaweed, f"node-a/{ns}/")

    add_mirror(node_b.settings, name, node_a.uri, ns, "register")
    report = refresh_mirror(node_b.settings, name)
    assert report.ok and {o.action for o in report.outcomes} == {"created"}
    assert report.stats.files_copied == 0 and report.stats.bytes_copied == 0

    local = node_b.catalog.load_table((name, ns, "events"))
    assert local.metadata_location.startswith(f"s3://{seaweed.bucket}/node-b/{name}/{ns}/")
    assert local.location() == table.location(), "the data stays where the source wrote it"
    assert local.properties[p.SOURCE_TABLE_UUID] == str(table.metadata.table_uuid)
    assert local.properties[p.SOURCE_SNAPSHOT_ID] == str(table.current_snapshot().snapshot_id)
    assert local.properties[p.MIRROR_MODE] == "register"
    mirror_keys = keys(seaweed, f"node-b/{name}/")
    assert mirror_keys and all(k.endswith(".metadata.json") for k in mirror_keys), "zero copy: metadata only"

    query = 'SELECT kind, COUNT(*), SUM(amount), MIN("at") FROM {} GROUP BY 1'
    assert rows_of(node_b.duckdb(), query.format(f'ice."{name}.{ns}".events')) == rows_of(
        node_a.duckdb(), query.format(f"ice.{ns}.events")
    )

    # Local writers are refused (PyIceberg and DuckDB alike); nothing changed.
    with pytest.raises(ForbiddenError, match="read-only"):
        local.append(events_batch(9, 3))
    with pytest.raises(duckdb.Error, match=r"(?i)forbidden|read-only|403"):
        node_b.duckdb().execute(f'INSERT INTO ice."{name}.{ns}".events SELECT * FROM ice."{name}.{ns}".events')
    assert node_b.catalog.load_table((name, ns, "events")).metadata_location == local.metadata_location

    # The source commits; the sensor's plan sees it; a refresh re-points the table in milliseconds.
    table.append(events_batch(2, 25))
    plan = plan_refresh(node_b.settings, name)
    assert plan.has_changes and {t.action.value for t in plan.tables} == {"update", "up-to-date"}
    began = time.perf_counter()
    report = refresh_mirror(node_b.settings, name)
    assert report.ok and time.perf_counter() - began < 10
    refreshed = node_b.catalog.load_table((name, ns, "events"))
    new_snapshot = node_a.catalog.load_table((ns, "events")).current_snapshot().snapshot_id
    assert refreshed.current_snapshot().snapshot_id == new_snapshot
    assert refreshed.metadata.table_uuid == local.metadata.table_uuid
    assert rows_of(node_b.duckdb(), query.format(f'ice."{name}.{ns}".events')) == rows_of(
        node_a.duckdb(), query.format(f"ice.{ns}.events")
    )
    assert all(k.endswith(".metadata.json") for k in keys(seaweed, f"node-b/{name}/"))

    # Removing the mirror drops its tables and metadata here, never a byte of the source's.
    dropped = remove_mirror(node_b.settings, name)
    assert sorted(dropped) == [f"{name}.{ns}.events", f"{name}.{ns}.other"]
    assert keys(seaweed, f"node-b/{name}/") == set()
    assert source_keys <= keys(seaweed, f"node-a/{ns}/")
    assert node_a.catalog.load_table((ns, "events")).scan().to_arrow().num_rows == 125
    assert (name,) not in node_b.catalog.list_namespaces()


def test_register_mode_keeps_serving_when_the_source_catalog_stops(
    seaweed: SeaweedFS, node_b: Node, tmp_path: Path
) -> None:
    origin = start_node(tmp_path / "origin", **seaweed.settings_changes("origin"))
    ns, name = unique("marts"), unique("reg")
    try:
        make_events_table(origin.catalog, ns, days=2)
        add_mirror(node_b.settings, name, origin.uri, ns, "register")
        assert refresh_mirror(node_b.settings, name).ok
        expected = rows_of(origin.duckdb(), f"SELECT * FROM ice.{ns}.events")
    finally:
        origin.stop()
    assert rows_of(node_b.duckdb(), f'SELECT * FROM ice."{name}.{ns}".events') == expected
    with pytest.raises(Exception, match="unreachable"):
        refresh_mirror(node_b.settings, name)


def test_register_mode_refuses_a_remote_whose_files_this_node_cannot_read(node_a: Node, tmp_path: Path) -> None:
    ns, name = unique("marts"), unique("reg")
    make_events_table(node_a.catalog, ns, days=1)
    local_only = start_node(tmp_path / "file-node")  # a file:// warehouse and no S3 settings
    try:
        add_mirror(local_only.settings, name, node_a.uri, ns, "register")
        report = refresh_mirror(local_only.settings, name)
        [outcome] = report.outcomes
        assert outcome.action == "failed"
        assert "Register mode needs the remote's files readable" in outcome.message
        assert "--mode copy" in outcome.message
        assert local_only.catalog.list_tables((name, ns)) == []
    finally:
        local_only.stop()


def test_copy_mode_brings_s3_tables_into_a_local_warehouse(node_a: Node, tmp_path: Path) -> None:
    ns, name = unique("marts"), unique("cp")
    make_events_table(node_a.catalog, ns, days=3)
    local_only = start_node(tmp_path / "file-node")
    try:
        add_mirror(local_only.settings, name, node_a.uri, ns, "copy")
        report = refresh_mirror(local_only.settings, name)
        assert report.ok and report.stats.files_copied == 3
        local = local_only.catalog.load_table((name, ns, "events"))
        assert local.location().startswith("file://")
        assert rows_of(local_only.duckdb(), f'SELECT * FROM ice."{name}.{ns}".events') == rows_of(
            node_a.duckdb(), f"SELECT * FROM ice.{ns}.events"
        )
    finally:
        local_only.stop()
