"""The catalog database layer on SQLite and PostgreSQL: write transactions, pooled connections, durability setting."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, text

from catalog.context import CatalogContext
from catalog.errors import AlreadyExistsError
from catalog.store import PING_AFTER_IDLE_SECONDS, CatalogStore, ConcurrentCommitError, LocationSwap
from tests.catalog.conftest import BACKENDS, POSTGRES_URL, ScratchDatabase, catalog_settings

WH = "commonlake"
NS = ("n",)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty catalog database on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    db = ScratchDatabase.create()
    try:
        yield db.url
    finally:
        db.drop()


@pytest.fixture
def store(database_url: str) -> Iterator[CatalogStore]:
    store = CatalogStore.from_url(database_url)
    try:
        yield store
    finally:
        store.close()


def in_transaction(conn: Connection) -> bool:
    """Whether the connection sits inside an open database transaction."""
    if conn.dialect.name == "sqlite":
        return conn.connection.dbapi_connection.in_transaction  # type: ignore[union-attr]
    # In a transaction, now() is when it began; a statement on its own begins one.
    return not conn.exec_driver_sql("SELECT now() = statement_timestamp()").scalar()


def test_failed_writes_roll_back_and_leave_no_transaction_open(store: CatalogStore, database_url: str) -> None:
    store.create_namespace(WH, NS, {})
    store.swap_locations(WH, [LocationSwap(NS, "t", expected=None, new="loc0")])
    with pytest.raises(ConcurrentCommitError):
        store.swap_locations(WH, [LocationSwap(NS, "t", expected="stale", new="lost")])
    with pytest.raises(AlreadyExistsError):  # a statement that fails inside the transaction
        store.create_namespace(WH, NS, {})
    time.sleep(0.01)
    with store.read() as conn:
        assert not in_transaction(conn)

    store.swap_locations(WH, [LocationSwap(NS, "t", expected="loc0", new="loc1")])
    replica = CatalogStore.from_url(database_url)  # another server on the same database sees it at once
    try:
        assert replica.get_object(WH, NS, "t", "table").metadata_location == "loc1"
    finally:
        replica.close()


def test_a_connection_returned_to_the_pool_inside_a_transaction_is_rolled_back(store: CatalogStore) -> None:
    store.create_namespace(WH, NS, {})
    store.swap_locations(WH, [LocationSwap(NS, "t", expected=None, new="loc0")])
    with store.engine.connect() as conn:  # a transaction nobody commits or rolls back
        conn.exec_driver_sql("BEGIN")
        conn.exec_driver_sql("UPDATE commonlake_objects SET metadata_location = 'uncommitted'")
    with store.read() as conn:
        assert not in_transaction(conn)
    store.swap_locations(WH, [LocationSwap(NS, "t", expected="loc0", new="loc1")])  # no lock left behind
    assert store.get_object(WH, NS, "t", "table").metadata_location == "loc1"


def test_a_swap_from_a_location_another_writer_moved_is_refused(store: CatalogStore, database_url: str) -> None:
    store.create_namespace(WH, NS, {})
    store.swap_locations(WH, [LocationSwap(NS, "t", expected=None, new="loc0")])
    other = CatalogStore.from_url(database_url)
    try:
        other.swap_locations(WH, [LocationSwap(NS, "t", expected="loc0", new="theirs")])
        with pytest.raises(ConcurrentCommitError):
            store.swap_locations(WH, [LocationSwap(NS, "t", expected="loc0", new="ours")])
    finally:
        other.close()
    assert store.get_object(WH, NS, "t", "table").metadata_location == "theirs"


def backend_pid(store: CatalogStore) -> int:
    with store.read() as conn:
        return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()


@pytest.mark.postgres
def test_a_pooled_connection_that_died_while_idle_is_replaced_before_use(scratch_database: str) -> None:
    store = CatalogStore.from_url(scratch_database)
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    uses = [
        lambda: store.load_namespace_properties(WH, NS),  # a read
        lambda: store.update_namespace_properties(WH, NS, [], {"k": "v"}),  # a write transaction
    ]
    try:
        store.create_namespace(WH, NS, {})
        for use in uses:
            pid = backend_pid(store)
            with admin.connect() as conn:
                assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            time.sleep(PING_AFTER_IDLE_SECONDS + 0.3)
            use()
            assert backend_pid(store) != pid
        assert store.load_namespace_properties(WH, NS) == {"k": "v"}
    finally:
        admin.dispose()
        store.close()


@pytest.mark.postgres
def test_commits_are_synchronous_unless_the_setting_opts_out(scratch_database: str, tmp_path: Path) -> None:
    def synchronous_commit(store: CatalogStore) -> tuple[str, str]:
        with store.read() as conn:
            read = conn.exec_driver_sql("SHOW synchronous_commit").scalar_one()
        with store.write() as conn:
            written = conn.exec_driver_sql("SHOW synchronous_commit").scalar_one()
        return read, written

    for opt_out, expected in ((None, "on"), (False, "off")):
        changes = {} if opt_out is None else {"database_synchronous_commit": opt_out}
        settings = catalog_settings(tmp_path / f"lake-{expected}", scratch_database, **changes)
        context = CatalogContext.from_settings(settings)
        try:
            assert synchronous_commit(context.store) == (expected, expected)
        finally:
            context.store.close()
