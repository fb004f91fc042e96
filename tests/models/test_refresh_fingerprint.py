"""A FULL refresh is skipped when its query and input tables are unchanged: real catalog, real DuckDB."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.schema import Schema
from pyiceberg.types import LongType, NestedField, StringType
from sqlglot import parse_one

from sqlmesh_project.engines.refresh_fingerprint import REFRESH_FINGERPRINT, last_fingerprint, query_inputs
from sqlmesh_project.project_config import build_config
from tests.conftest import RunningCatalog, make_settings, start_catalog

SOURCE = Schema(NestedField(1, "id", LongType(), required=False), NestedField(2, "name", StringType(), required=False))


def _names(sql: str) -> list[str] | None:
    tables = query_inputs(parse_one(sql, read="duckdb"))
    return None if tables is None else sorted(t.sql() for t in tables)


def test_inputs_are_the_tables_read_and_volatile_queries_have_none() -> None:
    assert _names("WITH a AS (SELECT * FROM ice.ns.x) SELECT * FROM a JOIN ice.ns.y USING (id)") == [
        "ice.ns.x",
        "ice.ns.y",
    ]
    assert _names("SELECT 1 AS one") == []
    for volatile in (
        "SELECT now() AS t FROM ice.ns.x",
        "SELECT CURRENT_DATE AS d",
        "SELECT random() AS r",
        "SELECT uuid() AS u",
        "SELECT get_current_timestamp() AS t",
        "SELECT * FROM read_parquet('x.parquet')",
        "SELECT * FROM unqualified",
    ):
        assert _names(volatile) is None, volatile


@pytest.fixture
def running(tmp_path: Path) -> Iterator[RunningCatalog]:
    running = start_catalog(make_settings(tmp_path / "lake"))
    try:
        for namespace in ("main", "ns"):  # DuckDB's attach uses "main" as its default schema
            running.catalog.create_namespace(namespace)
        source = running.catalog.create_table("ns.source", SOURCE)
        source.append(pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["a", "b"]}))
        yield running
    finally:
        running.server.stop()


def _adapter(running: RunningCatalog):
    """The project's DuckDB adapter on this catalog, with an empty ``ns.target`` (as SQLMesh creates it)."""
    adapter = build_config(running.settings).get_gateway().connection.create_engine_adapter()
    adapter.execute("CREATE TABLE ice.ns.target (id BIGINT, name TEXT)")
    return adapter


def _refresh(adapter, query: str) -> None:
    """What SQLMesh runs for a FULL model on a table that exists (SUPPORTS_REPLACE_TABLE is off)."""
    adapter.replace_query("ice.ns.target", parse_one(query, read="duckdb"))


def _current(running: RunningCatalog):
    return running.catalog.load_table("ns.target").current_snapshot()


def test_an_unchanged_refresh_is_skipped_and_a_changed_input_reruns_it(running: RunningCatalog) -> None:
    adapter = _adapter(running)
    query = "SELECT id, upper(name) AS name FROM ice.ns.source"

    _refresh(adapter, query)
    written = _current(running)
    assert written is not None and REFRESH_FINGERPRINT in written.summary.additional_properties
    _refresh(adapter, query)
    assert _current(running).snapshot_id == written.snapshot_id, "same query, same inputs: not rewritten"

    running.catalog.load_table("ns.source").append(pa.table({"id": pa.array([3], pa.int64()), "name": ["c"]}))
    _refresh(adapter, query)
    rewritten = _current(running)
    assert rewritten.snapshot_id != written.snapshot_id
    rows = running.catalog.load_table("ns.target").scan().to_arrow().sort_by("id")
    assert rows["name"].to_pylist() == ["A", "B", "C"]

    _refresh(adapter, "SELECT id, lower(name) AS name FROM ice.ns.source")
    assert _current(running).snapshot_id != rewritten.snapshot_id, "another query: rewritten"
    rows = running.catalog.load_table("ns.target").scan().to_arrow().sort_by("id")
    assert rows["name"].to_pylist() == ["a", "b", "c"]


def test_volatile_queries_and_foreign_writes_always_refresh(running: RunningCatalog) -> None:
    adapter = _adapter(running)
    volatile = "SELECT id, CAST(now() AS TEXT) AS name FROM ice.ns.source"
    _refresh(adapter, volatile)
    first = _current(running)
    assert last_fingerprint(running.catalog.load_table("ns.target")) is None
    _refresh(adapter, volatile)
    assert _current(running).snapshot_id != first.snapshot_id

    query = "SELECT id, name FROM ice.ns.source"
    _refresh(adapter, query)
    recorded = _current(running)
    # Someone else writes the table (an engine, maintenance): its snapshot has no fingerprint.
    running.catalog.load_table("ns.target").append(pa.table({"id": pa.array([9], pa.int64()), "name": ["z"]}))
    _refresh(adapter, query)
    target = running.catalog.load_table("ns.target")
    assert target.current_snapshot().snapshot_id != recorded.snapshot_id
    assert sorted(target.scan().to_arrow()["id"].to_pylist()) == [1, 2]


def test_the_first_refresh_creates_the_table_and_records_its_fingerprint(running: RunningCatalog) -> None:
    """A FULL model's first write (its table missing, as SQLMesh leaves an unannotated model's) is fingerprinted."""
    adapter = build_config(running.settings).get_gateway().connection.create_engine_adapter()
    query = "SELECT id, upper(name) AS name, id * 2.5 AS score FROM ice.ns.source"

    _refresh(adapter, query)
    table = running.catalog.load_table("ns.target")
    written = table.current_snapshot()
    assert written is not None and last_fingerprint(table) is not None
    # The columns and types DuckDB's own CREATE TABLE … AS gives them, and the query's rows once.
    adapter.execute(f"CREATE TABLE ice.ns.by_ctas AS {query}")
    by_ctas = running.catalog.load_table("ns.by_ctas").schema()
    assert [(f.name, f.field_type) for f in table.schema().fields] == [(f.name, f.field_type) for f in by_ctas.fields]
    assert table.scan().to_arrow().sort_by("id").to_pydict() == {
        "id": [1, 2],
        "name": ["A", "B"],
        "score": [Decimal("2.5"), Decimal("5")],
    }

    _refresh(adapter, query)
    assert _current(running).snapshot_id == written.snapshot_id, "same query, same inputs: not rewritten"


def test_a_table_of_a_nested_namespace_is_an_input_like_any_other(running: RunningCatalog) -> None:
    """DuckDB names the namespace ("ns", "inner") "ns.inner" (a mirror's "upstream.marts", say)."""
    running.catalog.create_namespace(("ns", "inner"))
    nested = running.catalog.create_table(("ns", "inner", "source"), SOURCE)
    nested.append(pa.table({"id": pa.array([7], pa.int64()), "name": ["n"]}))
    adapter = _adapter(running)
    query = 'SELECT id, name FROM ice."ns.inner".source'

    _refresh(adapter, query)
    written = _current(running)
    assert last_fingerprint(running.catalog.load_table("ns.target")) is not None
    _refresh(adapter, query)
    assert _current(running).snapshot_id == written.snapshot_id, "same query, same inputs: not rewritten"

    nested.append(pa.table({"id": pa.array([8], pa.int64()), "name": ["m"]}))
    _refresh(adapter, query)
    assert sorted(running.catalog.load_table("ns.target").scan().to_arrow()["id"].to_pylist()) == [7, 8]
