"""Two Commonlake nodes on one machine, each with its own catalog server, database and warehouse."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlparse

import duckdb
import pyarrow as pa
import pytest
from pyiceberg.catalog import Catalog
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import DayTransform
from pyiceberg.types import DoubleType, LongType, NestedField, StringType, TimestamptzType

from commonlake import duckdb_attach
from commonlake.settings import Settings
from ingestion.synthetic import SampleManifest, SampleSpec, generate_sample
from tests.conftest import RunningCatalog, make_settings, start_catalog

SAMPLE = SampleSpec(seed=5, projects=6, days=3, events_per_hour=12, start=date(2025, 9, 1))
EVENTS_SCHEMA = Schema(
    NestedField(1, "id", LongType(), required=False),
    NestedField(2, "kind", StringType(), required=False),
    NestedField(3, "at", TimestamptzType(), required=False),
    NestedField(4, "amount", DoubleType(), required=False),
)
EVENTS_SPEC = PartitionSpec(PartitionField(source_id=3, field_id=1000, transform=DayTransform(), name="at_day"))


@dataclass
class Node:
    """One Commonlake node: a catalog server (own SQLite database and warehouse) and a client on it."""

    running: RunningCatalog

    @property
    def settings(self) -> Settings:
        return self.running.settings

    @property
    def catalog(self) -> Catalog:
        return self.running.catalog

    @property
    def uri(self) -> str:
        return self.running.uri

    @property
    def warehouse_dir(self) -> Path:
        return Path(unquote(urlparse(self.settings.warehouse_location).path))

    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with this node's catalog attached as ``ice``."""
        return duckdb_attach.connect(self.settings, "ice")

    def stop(self) -> None:
        self.running.server.stop()


def start_node(data_dir: Path, **changes: object) -> Node:
    """A node on free loopback ports."""
    settings = make_settings(data_dir)
    return Node(start_catalog(settings.with_updates(**changes) if changes else settings))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """The node being mirrored (shared by a module's tests; each test uses namespaces of its own)."""
    node = start_node(tmp_path_factory.mktemp("source"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def replica(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """The mirroring node, with a warehouse of its own."""
    node = start_node(tmp_path_factory.mktemp("replica"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def gharchive_sample(tmp_path_factory: pytest.TempPathFactory) -> SampleManifest:
    """Three days of generated GH Archive hours and an oss-directory tree."""
    return generate_sample(tmp_path_factory.mktemp("sample"), SAMPLE)


def unique(prefix: str) -> str:
    """A name no other test uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def events_batch(day: int, rows: int, seed: int = 0) -> pa.Table:
    """``rows`` events on day ``day`` (2025-09-01 + day), deterministic."""
    start = datetime(2025, 9, 1, tzinfo=UTC) + timedelta(days=day)
    ids = [day * 1_000_000 + seed * 10_000 + i for i in range(rows)]
    return pa.table(
        {
            "id": pa.array(ids, pa.int64()),
            "kind": pa.array([("push", "star", "fork")[i % 3] for i in ids]),
            "at": pa.array([start + timedelta(seconds=i * 7 % 86_400) for i in range(rows)], pa.timestamp("us", "UTC")),
            "amount": pa.array([float(i % 13) for i in ids]),
        }
    )


def make_events_table(catalog: Catalog, namespace: str, name: str = "events", days: int = 2, rows: int = 50) -> Table:
    """A day-partitioned table with one append per day."""
    catalog.create_namespace_if_not_exists(namespace)
    table = catalog.create_table((namespace, name), schema=EVENTS_SCHEMA, partition_spec=EVENTS_SPEC)
    for day in range(days):
        table.append(events_batch(day, rows))
    return table


def table_files(root: Path) -> set[Path]:
    """Every file under a directory."""
    return {p for p in root.rglob("*") if p.is_file()}


def rows_of(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    """Query results, sorted (for comparing two nodes)."""
    return sorted(connection.execute(sql).fetchall(), key=repr)
