"""PyIceberg's RestCatalog against the running catalog server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import pyarrow as pa
import pytest
from pyiceberg.catalog import load_catalog
from pyiceberg.exceptions import (
    NamespaceAlreadyExistsError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    NoSuchViewError,
    TableAlreadyExistsError,
)
from pyiceberg.expressions import EqualTo, GreaterThanOrEqual
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import LongType, NestedField, StringType
from pyiceberg.view.metadata import SQLViewRepresentation, ViewVersion

from tests.conftest import RunningCatalog

PREFIX = "/v1/commonlake"


def fresh_namespace(catalog, *parent: str) -> tuple[str, ...]:
    """A new namespace with a unique name (tests share one server per module)."""
    ns = (*parent, f"ns_{uuid.uuid4().hex[:8]}")
    catalog.create_namespace(ns)
    return ns


def path_of(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


EVENTS = pa.schema([pa.field("id", pa.int64(), nullable=False), pa.field("kind", pa.string())])


def test_namespaces_nested_properties_and_drop(backend_catalog: RunningCatalog) -> None:
    cat = backend_catalog.catalog
    top = fresh_namespace(cat)
    child = (*top, "child")
    cat.create_namespace(child, {"owner": "alice", "tier": "gold"})
    with pytest.raises(NamespaceAlreadyExistsError):
        cat.create_namespace(child)
    # A nested namespace needs its parent (PyIceberg has no exception class for this 404).
    with pytest.raises(Exception, match="NoSuchNamespaceException"):
        cat.create_namespace((*top, "missing", "grandchild"))

    assert top in cat.list_namespaces()
    assert cat.list_namespaces(top) == [child]
    assert cat.load_namespace_properties(child) == {"owner": "alice", "tier": "gold"}
    assert cat.namespace_exists(child) and not cat.namespace_exists((*top, "nope"))

    summary = cat.update_namespace_properties(child, removals={"tier", "absent"}, updates={"owner": "bob"})
    assert summary.updated == ["owner"] and summary.removed == ["tier"] and summary.missing == ["absent"]
    assert cat.load_namespace_properties(child) == {"owner": "bob"}

    cat.create_table((*child, "t"), schema=EVENTS)
    with pytest.raises(NamespaceNotEmptyError):
        cat.drop_namespace(child)
    with pytest.raises(NamespaceNotEmptyError):  # a child namespace also makes it non-empty
        cat.drop_namespace(top)
    cat.drop_table((*child, "t"))
    cat.drop_namespace(child)
    cat.drop_namespace(top)
    assert not cat.namespace_exists(top)


def test_pagination_is_stable_across_pages(backend_catalog: RunningCatalog, http: httpx.Client) -> None:
    cat = backend_catalog.catalog
    ns = fresh_namespace(cat)
    for i in range(7):
        cat.create_namespace((*ns, f"c{i}"))
        cat.create_table((*ns, f"t{i}"), schema=EVENTS)

    seen: list[list[str]] = []
    token = None
    pages = 0
    while True:
        params = {"parent": ns[0], "pageSize": 3, **({"pageToken": token} if token else {})}
        body = http.get(f"{PREFIX}/namespaces", params=params).json()
        seen += body["namespaces"]
        pages += 1
        if pages == 1:
            # Created between pages, sorting before the cursor: a stable token neither repeats nor skips.
            cat.create_namespace((*ns, "a_new"))
        token = body.get("next-page-token")
        if not token:
            break
    assert pages == 3
    assert [n[-1] for n in seen] == [f"c{i}" for i in range(7)]

    # PyIceberg follows next-page-token itself when the server pages its answers.
    paged = load_catalog("paged", **{**backend_catalog.settings.rest_catalog_properties(), "rest-page-size": "2"})
    assert sorted(t[-1] for t in paged.list_tables(ns)) == [f"t{i}" for i in range(7)]
    first = http.get(f"{PREFIX}/namespaces/{ns[0]}/tables", params={"pageSize": 2}).json()
    assert len(first["identifiers"]) == 2 and first["next-page-token"]
    with_bad_token = http.get(f"{PREFIX}/namespaces/{ns[0]}/tables", params={"pageToken": "%%%"})
    assert with_bad_token.status_code == 400


def test_table_writes_evolution_and_time_travel(backend_catalog: RunningCatalog) -> None:
    cat = backend_catalog.catalog
    ns = fresh_namespace(cat)
    table = cat.create_table((*ns, "events"), schema=EVENTS)
    with pytest.raises(TableAlreadyExistsError):
        cat.create_table((*ns, "events"), schema=EVENTS)

    table.append(pa.table({"id": [1, 2, 3], "kind": ["a", "b", "c"]}, schema=EVENTS))
    first_snapshot = table.current_snapshot().snapshot_id
    table.append(pa.table({"id": [4], "kind": ["d"]}, schema=EVENTS))
    table.delete(EqualTo("id", 2))
    assert sorted(table.scan().to_arrow()["id"].to_pylist()) == [1, 3, 4]

    upsert = table.upsert(pa.table({"id": [3, 5], "kind": ["C", "e"]}, schema=EVENTS), join_cols=["id"])
    assert (upsert.rows_updated, upsert.rows_inserted) == (1, 1)
    reloaded = cat.load_table((*ns, "events"))
    rows = dict(zip(*reloaded.scan().to_arrow().select(["id", "kind"]).to_pydict().values(), strict=True))
    assert rows == {1: "a", 3: "C", 4: "d", 5: "e"}

    # Time travel: the first snapshot still reads as it was.
    assert sorted(reloaded.scan(snapshot_id=first_snapshot).to_arrow()["id"].to_pylist()) == [1, 2, 3]

    replacement = pa.table({"id": [9], "kind": ["z"]}, schema=EVENTS)
    reloaded.overwrite(replacement, overwrite_filter=GreaterThanOrEqual("id", 4))
    assert sorted(cat.load_table((*ns, "events")).scan().to_arrow()["id"].to_pylist()) == [1, 3, 9]

    # Schema evolution, then partition evolution, each one commit through the catalog.
    with reloaded.update_schema() as update:
        update.add_column("repo", StringType())
        update.rename_column("kind", "event_type")
    with reloaded.update_spec() as spec:
        spec.add_identity("event_type")
    evolved = cat.load_table((*ns, "events"))
    assert [f.name for f in evolved.schema().fields] == ["id", "event_type", "repo"]
    assert evolved.spec().fields[0].name == "event_type" and len(evolved.specs()) == 2
    evolved_schema = pa.schema([EVENTS.field("id"), ("event_type", pa.string()), ("repo", pa.string())])
    evolved.append(pa.table({"id": [10], "event_type": ["push"], "repo": ["x/y"]}, schema=evolved_schema))
    result = cat.load_table((*ns, "events")).scan(row_filter=EqualTo("event_type", "push")).to_arrow()
    assert result["repo"].to_pylist() == ["x/y"]
    assert len(cat.load_table((*ns, "events")).metadata.snapshots) >= 6


def test_create_partitioned_staged_rename_register_and_purge(backend_catalog: RunningCatalog) -> None:
    cat = backend_catalog.catalog
    ns = fresh_namespace(cat)
    schema = Schema(NestedField(1, "id", LongType(), required=True), NestedField(2, "kind", StringType()))
    spec = PartitionSpec(PartitionField(source_id=2, field_id=1000, transform=IdentityTransform(), name="kind"))

    # Staged create: nothing exists until the transaction commits (assert-create).
    tx = cat.create_table_transaction((*ns, "staged"), schema=schema, partition_spec=spec)
    assert not cat.table_exists((*ns, "staged"))
    tx.append(pa.table({"id": [1, 2], "kind": ["x", "y"]}, schema=EVENTS))
    tx.commit_transaction()
    staged = cat.load_table((*ns, "staged"))
    assert staged.scan().to_arrow().num_rows == 2 and staged.spec().fields[0].name == "kind"

    # Rename across namespaces.
    other = fresh_namespace(cat)
    cat.rename_table((*ns, "staged"), (*other, "moved"))
    assert not cat.table_exists((*ns, "staged"))
    moved = cat.load_table((*other, "moved"))
    assert moved.scan().to_arrow().num_rows == 2
    with pytest.raises(NoSuchTableError):
        cat.rename_table((*ns, "staged"), (*other, "again"))

    # Register the same metadata file under another name: same table, same rows.
    registered = cat.register_table((*ns, "registered"), moved.metadata_location)
    assert registered.metadata.table_uuid == moved.metadata.table_uuid
    assert registered.scan().to_arrow().num_rows == 2
    with pytest.raises(TableAlreadyExistsError):
        cat.register_table((*ns, "registered"), moved.metadata_location)
    cat.drop_table((*ns, "registered"))  # drop without purge keeps the files the other name uses
    assert cat.load_table((*other, "moved")).scan().to_arrow().num_rows == 2

    # Drop with purge deletes data, manifests and metadata files.
    table_dir = path_of(moved.location())
    files_before = [p for p in table_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files_before)
    cat.purge_table((*other, "moved"))
    assert not cat.table_exists((*other, "moved"))
    assert [p for p in table_dir.rglob("*") if p.is_file()] == []


def test_missing_table_vs_missing_namespace(backend_catalog: RunningCatalog, http: httpx.Client) -> None:
    cat = backend_catalog.catalog
    ns = fresh_namespace(cat)
    with pytest.raises(NoSuchTableError):
        cat.load_table((*ns, "absent"))
    with pytest.raises(NoSuchNamespaceError):
        cat.list_tables(("absent_ns",))
    table_404 = http.get(f"{PREFIX}/namespaces/{ns[0]}/tables/absent").json()["error"]
    ns_404 = http.get(f"{PREFIX}/namespaces/absent_ns/tables/absent").json()["error"]
    assert (table_404["type"], table_404["code"]) == ("NoSuchTableException", 404)
    assert (ns_404["type"], ns_404["code"]) == ("NoSuchNamespaceException", 404)


def view_version(sql: str, schema_id: int = 0, dialect: str = "spark") -> ViewVersion:
    return ViewVersion(
        version_id=1,
        schema_id=schema_id,
        representations=[SQLViewRepresentation(type="sql", sql=sql, dialect=dialect)],
        default_namespace=["default"],
    )


VIEW_SCHEMA = Schema(NestedField(1, "id", LongType()))


def test_views_create_load_replace_rename_register_drop(backend_catalog: RunningCatalog, http: httpx.Client) -> None:
    cat = backend_catalog.catalog
    ns = fresh_namespace(cat)
    view = cat.create_view((*ns, "v"), VIEW_SCHEMA, view_version("SELECT id FROM t"), properties={"comment": "first"})
    assert view.metadata.current_version_id == 1 and view.properties == {"comment": "first"}
    assert cat.list_views(ns) == [(*ns, "v")] and cat.view_exists((*ns, "v"))
    assert cat.list_tables(ns) == []  # a view is not a table
    with pytest.raises(NoSuchTableError):
        cat.load_table((*ns, "v"))
    loaded = cat.load_view((*ns, "v"))
    assert loaded.metadata.view_uuid == view.metadata.view_uuid

    # Replace (CREATE OR REPLACE VIEW): a new schema and version, guarded by the view's UUID.
    base = http.get(f"{PREFIX}/namespaces/{ns[0]}/views/v").json()
    field = {"id": 1, "name": "n", "required": False, "type": "long"}
    new_schema = {"type": "struct", "schema-id": 1, "fields": [field]}
    replace = {
        "requirements": [{"type": "assert-view-uuid", "uuid": base["metadata"]["view-uuid"]}],
        "updates": [
            {"action": "add-schema", "schema": new_schema, "last-column-id": 1},
            {
                "action": "add-view-version",
                "view-version": {
                    "version-id": 2,
                    "schema-id": -1,
                    "timestamp-ms": 1,
                    "summary": {"engine": "test"},
                    "representations": [{"type": "sql", "sql": "SELECT count(*) AS n FROM t", "dialect": "spark"}],
                    "default-namespace": ["default"],
                },
            },
            {"action": "set-current-view-version", "view-version-id": -1},
            {"action": "set-properties", "updates": {"comment": "second"}},
        ],
    }
    response = http.post(f"{PREFIX}/namespaces/{ns[0]}/views/v", json=replace)
    assert response.status_code == 200, response.text
    replaced = cat.load_view((*ns, "v")).metadata
    assert replaced.current_version_id == 2 and replaced.properties["comment"] == "second"
    current = next(v for v in replaced.versions if v.version_id == 2)
    assert current.schema_id == 1 and current.representations[0].root.sql == "SELECT count(*) AS n FROM t"
    assert [e.version_id for e in replaced.version_log] == [1, 2]

    stale = {**replace, "requirements": [{"type": "assert-view-uuid", "uuid": str(uuid.uuid4())}]}
    conflict = http.post(f"{PREFIX}/namespaces/{ns[0]}/views/v", json=stale)
    assert conflict.status_code == 409 and conflict.json()["error"]["type"] == "CommitFailedException"

    # Rename, then register the view's metadata file under another name.
    renamed = http.post(
        f"{PREFIX}/views/rename",
        json={"source": {"namespace": list(ns), "name": "v"}, "destination": {"namespace": list(ns), "name": "w"}},
    )
    assert renamed.status_code == 204
    assert not cat.view_exists((*ns, "v")) and cat.view_exists((*ns, "w"))
    location = http.get(f"{PREFIX}/namespaces/{ns[0]}/views/w").json()["metadata-location"]
    register = {"name": "w2", "metadata-location": location}
    registered = http.post(f"{PREFIX}/namespaces/{ns[0]}/register-view", json=register)
    assert registered.status_code == 200, registered.text
    assert cat.load_view((*ns, "w2")).metadata.view_uuid == replaced.view_uuid

    cat.drop_view((*ns, "w"))
    assert not cat.view_exists((*ns, "w"))
    with pytest.raises(NoSuchViewError):
        cat.drop_view((*ns, "w"))
    missing = http.get(f"{PREFIX}/namespaces/{ns[0]}/views/w").json()["error"]
    assert missing["type"] == "NoSuchViewException"


def test_view_history_is_trimmed(backend_catalog: RunningCatalog, http: httpx.Client) -> None:
    cat = backend_catalog.catalog
    ns = fresh_namespace(cat)
    cat.create_view((*ns, "v"), VIEW_SCHEMA, view_version("SELECT 0"), properties={"version.history.num-entries": "3"})
    for i in range(1, 6):
        body = {
            "updates": [
                {
                    "action": "add-view-version",
                    "view-version": {
                        "version-id": 99,
                        "schema-id": 0,
                        "timestamp-ms": i,
                        "summary": {},
                        "representations": [{"type": "sql", "sql": f"SELECT {i}", "dialect": "spark"}],
                        "default-namespace": ["default"],
                    },
                },
                {"action": "set-current-view-version", "view-version-id": -1},
            ]
        }
        assert http.post(f"{PREFIX}/namespaces/{ns[0]}/views/v", json=body).status_code == 200
    metadata = cat.load_view((*ns, "v")).metadata
    assert [v.version_id for v in metadata.versions] == [4, 5, 6]
    assert metadata.current_version_id == 6
