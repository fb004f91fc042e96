"""DuckDB 1.5.5's iceberg extension against the catalog server, without auth and with OAuth2."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from catalog.auth.secrets import hash_secret
from commonlake.duckdb_attach import connect
from tests.catalog.conftest import catalog_settings
from tests.conftest import RunningCatalog, start_catalog


def fresh_schema() -> str:
    return f"duck_{uuid.uuid4().hex[:8]}"


def test_duckdb_creates_inserts_and_pyiceberg_reads_it_back(backend_catalog: RunningCatalog) -> None:
    schema = fresh_schema()
    con = connect(backend_catalog.settings, alias="lake")
    con.execute(f"CREATE SCHEMA lake.{schema}")
    con.execute(f"CREATE TABLE lake.{schema}.events (id BIGINT, kind VARCHAR)")
    con.execute(f"INSERT INTO lake.{schema}.events VALUES (1, 'push'), (2, 'fork')")
    con.execute(f"INSERT INTO lake.{schema}.events VALUES (3, 'star')")
    assert con.execute(f"SELECT count(*) FROM lake.{schema}.events").fetchone() == (3,)

    # PyIceberg reads what DuckDB wrote ...
    table = backend_catalog.catalog.load_table((schema, "events"))
    assert sorted(table.scan().to_arrow()["id"].to_pylist()) == [1, 2, 3]
    assert len(table.metadata.snapshots) == 2
    # ... and DuckDB reads what PyIceberg wrote.
    arrow_schema = table.schema().as_arrow()
    table.append(pa.table({"id": [4], "kind": ["issue"]}, schema=arrow_schema))
    rows = con.execute(f"SELECT id, kind FROM lake.{schema}.events ORDER BY id").fetchall()
    assert rows == [(1, "push"), (2, "fork"), (3, "star"), (4, "issue")]

    con.execute(f"DELETE FROM lake.{schema}.events WHERE id = 2")
    assert sorted(backend_catalog.catalog.load_table((schema, "events")).scan().to_arrow()["id"].to_pylist()) == [
        1,
        3,
        4,
    ]


def test_duckdb_transaction_over_two_tables_is_atomic(backend_catalog: RunningCatalog) -> None:
    schema = fresh_schema()
    con = connect(backend_catalog.settings, alias="lake")
    con.execute(f"CREATE SCHEMA lake.{schema}")
    con.execute(f"CREATE TABLE lake.{schema}.a (id BIGINT)")
    con.execute(f"CREATE TABLE lake.{schema}.b (id BIGINT)")
    con.execute("BEGIN")
    con.execute(f"INSERT INTO lake.{schema}.a VALUES (1)")
    con.execute(f"INSERT INTO lake.{schema}.b VALUES (1)")
    con.execute("COMMIT")  # one POST /transactions/commit for both tables
    cat = backend_catalog.catalog
    a, b = cat.load_table((schema, "a")), cat.load_table((schema, "b"))
    assert a.scan().to_arrow()["id"].to_pylist() == [1] and b.scan().to_arrow()["id"].to_pylist() == [1]


@pytest.fixture(scope="module")
def auth_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCatalog]:
    """A catalog with auth on: a writer and a reader principal, configured in settings."""
    auth = {
        "enabled": True,
        "principals": {
            "etl": {"secret_hash": hash_secret("etl-secret"), "roles": {"commonlake": "writer"}},
            "analyst": {"secret_hash": hash_secret("analyst-secret"), "roles": {"commonlake": "reader"}},
        },
    }
    settings = catalog_settings(tmp_path_factory.mktemp("auth-lake"), None, auth=auth, credential="etl:etl-secret")
    running = start_catalog(settings)
    try:
        yield running
    finally:
        running.server.stop()


def test_duckdb_attaches_with_oauth2_client_credentials(auth_catalog: RunningCatalog, tmp_path: Path) -> None:
    writer = connect(auth_catalog.settings, alias="lake")
    writer.execute("CREATE SCHEMA lake.secured")
    writer.execute("CREATE TABLE lake.secured.t (id BIGINT)")
    writer.execute("INSERT INTO lake.secured.t VALUES (7), (8)")
    assert writer.execute("SELECT sum(id) FROM lake.secured.t").fetchone() == (15,)

    reader_settings = auth_catalog.settings.with_updates(catalog={"credential": "analyst:analyst-secret"})
    reader = connect(reader_settings, alias="lake")
    assert reader.execute("SELECT count(*) FROM lake.secured.t").fetchone() == (2,)
    with pytest.raises(duckdb.Error, match=r"403|Forbidden|may not write"):
        reader.execute("INSERT INTO lake.secured.t VALUES (9)")
    assert writer.execute("SELECT count(*) FROM lake.secured.t").fetchone() == (2,)

    wrong = auth_catalog.settings.with_updates(catalog={"credential": "etl:wrong-secret"})
    with pytest.raises(duckdb.Error):
        connect(wrong, alias="lake").execute("SELECT count(*) FROM lake.secured.t")
