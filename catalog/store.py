"""Catalog state in a relational database (SQLite by default, PostgreSQL for deployments).

The database holds names, namespace properties and, for every table and view, the
location of its current metadata file. A commit is a compare-and-swap of that location
inside one database transaction, so concurrent writers never lose an update: the loser's
UPDATE matches no row and it gets a :class:`~catalog.errors.CommitFailedError`.

Connections are in autocommit mode on both databases and write transactions are explicit
(``BEGIN`` … ``COMMIT``), so a lookup is a single statement, one round trip, and so is the
usual commit: its conditional UPDATE is a transaction of its own. SQLite needs one
adjustment: a deferred transaction that reads and then writes can fail with "database is
locked" without waiting, so its write transactions start with ``BEGIN IMMEDIATE`` (the
SQLAlchemy-documented recipe for pysqlite).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError

from catalog.errors import (
    AlreadyExistsError,
    CommitFailedError,
    NamespaceNotEmptyError,
    NoSuchNamespaceError,
    NoSuchTableError,
    NoSuchViewError,
    ServiceUnavailableError,
)
from catalog.names import Identifier, display, namespace_from_key, namespace_key
from catalog.schema import metadata_obj, namespaces_table, objects_table

ObjectKind = Literal["table", "view"]


class ConcurrentCommitError(CommitFailedError):
    """Another writer moved the metadata pointer first; the server may re-apply and retry."""


# The hot paths (every loadTable, every commit) use statements built once with bind
# parameters: building SQLAlchemy expressions costs more than running them on SQLite.
_OBJECT_KEY = and_(
    objects_table.c.warehouse == bindparam("wh"),
    objects_table.c.namespace == bindparam("ns"),
    objects_table.c.name == bindparam("nm"),
)
_SELECT_OBJECT = select(objects_table.c.kind, objects_table.c.metadata_location).where(_OBJECT_KEY)
_SWAP_LOCATION = (
    update(objects_table)
    .where(
        and_(
            _OBJECT_KEY,
            objects_table.c.kind == bindparam("b_kind"),
            objects_table.c.metadata_location == bindparam("expected"),
        )
    )
    .values(
        metadata_location=bindparam("new"),
        previous_metadata_location=bindparam("expected_prev"),
        updated_at_ms=bindparam("now"),
    )
)


def _key(warehouse: str, namespace: Identifier, name: str) -> dict[str, str]:
    return {"wh": warehouse, "ns": namespace_key(namespace), "nm": name}


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class StoredObject:
    """A table or view row: its identity and current metadata location."""

    namespace: Identifier
    name: str
    kind: ObjectKind
    metadata_location: str


@dataclass(frozen=True)
class LocationSwap:
    """One compare-and-swap of a table's metadata location (``expected=None`` creates it)."""

    namespace: Identifier
    name: str
    expected: str | None
    new: str
    kind: ObjectKind = "table"


# A pooled connection idle for longer than this is checked with ``SELECT 1`` before use.
PING_AFTER_IDLE_SECONDS = 1.0
# libpq's PQTRANS_INTRANS and PQTRANS_INERROR (psycopg2's and psycopg's transaction_status).
_IN_TRANSACTION = (2, 3)


def make_engine(url: str, synchronous_commit: bool = True) -> Engine:
    """Create the SQLAlchemy engine: autocommit connections (transactions are explicit, see ``write``).

    SQLite gets WAL and a busy timeout. PostgreSQL connections are pinged only after being
    idle (see :func:`_ping_idle_connections`); ``synchronous_commit=False`` sets PostgreSQL's
    ``synchronous_commit=off`` on them (the opt-in durability trade-off of the setting
    ``catalog.database_synchronous_commit``).
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            isolation_level="AUTOCOMMIT",
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=16,
            max_overflow=16,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # Autocommit at the driver: otherwise psycopg2 sends its own BEGIN before the first
    # statement, and switching a pooled connection to autocommit for a read and back costs
    # two more round trips (a loadTable was four statements; it is now one).
    engine = create_engine(url, isolation_level="AUTOCOMMIT", pool_size=16, max_overflow=16)
    _ping_idle_connections(engine)
    if not synchronous_commit:

        @event.listens_for(engine, "connect")
        def _asynchronous_commit(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("SET synchronous_commit TO off")
            cur.close()

    return engine


def _ping_idle_connections(engine: Engine) -> None:
    """Check a pooled connection with ``SELECT 1`` before use, but only when it sat idle.

    ``pool_pre_ping`` pings on every checkout: one extra round trip on every request.
    A connection used less than a second ago is used as it is; one idle for longer (when
    the database may have restarted or dropped it) is pinged, and replaced if dead, as
    ``pool_pre_ping`` would. A connection lost within a second of its last use fails the
    request that uses it (a 5xx, which clients retry), and SQLAlchemy then replaces every
    pooled connection.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(dbapi_conn, record) -> None:  # type: ignore[no-untyped-def]
        # The driver's own rollback on checkin does nothing in autocommit mode, so a
        # transaction that ``write`` could not close (it always tries) is closed here.
        status = getattr(getattr(dbapi_conn, "info", None), "transaction_status", None)
        if status in _IN_TRANSACTION:
            try:
                cur = dbapi_conn.cursor()
                cur.execute("ROLLBACK")
                cur.close()
            except Exception as exc:  # a broken connection: drop it rather than pool it
                record.invalidate(exc)
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
        except Exception as exc:  # any failure: the connection is unusable, get another
            raise DisconnectionError(f"Pooled connection failed its ping: {exc}") from exc


class CatalogStore:
    """Names, properties and metadata locations of one or more warehouses."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._begin = "BEGIN IMMEDIATE" if self.is_sqlite else "BEGIN"
        metadata_obj.create_all(engine)

    @classmethod
    def from_url(cls, url: str, synchronous_commit: bool = True) -> CatalogStore:
        """Open (and create if needed) the catalog database at ``url`` (see :func:`make_engine`)."""
        if url.startswith("sqlite:///"):
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return cls(make_engine(url, synchronous_commit))

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # ---- transactions ------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reads; each statement runs on its own (autocommit, no BEGIN/ROLLBACK)."""
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; SQLite takes its write lock up front to avoid lock-upgrade failures."""
        with _mapped_database_errors(), self.engine.connect() as conn:
            conn.exec_driver_sql(self._begin)
            try:
                yield conn
            except BaseException:
                if not conn.invalidated:
                    conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")

    # ---- namespaces ----------------------------------------------------------------------
    def namespace_exists(self, conn: Connection, warehouse: str, namespace: Identifier) -> bool:
        """True when the namespace exists."""
        row = conn.execute(
            select(namespaces_table.c.id).where(
                and_(namespaces_table.c.warehouse == warehouse, namespaces_table.c.name == namespace_key(namespace))
            )
        ).first()
        return row is not None

    def require_namespace(self, conn: Connection, warehouse: str, namespace: Identifier) -> None:
        """Raise NoSuchNamespaceError unless the namespace exists."""
        if not self.namespace_exists(conn, warehouse, namespace):
            raise NoSuchNamespaceError(f"Namespace does not exist: {display(namespace)}")

    def create_namespace(self, warehouse: str, namespace: Identifier, properties: dict[str, str]) -> None:
        """Create a namespace; its parent must exist for nested namespaces."""
        with self.write() as conn:
            if len(namespace) > 1 and not self.namespace_exists(conn, warehouse, namespace[:-1]):
                raise NoSuchNamespaceError(f"Parent namespace does not exist: {display(namespace[:-1])}")
            try:
                conn.execute(
                    insert(namespaces_table).values(
                        warehouse=warehouse,
                        name=namespace_key(namespace),
                        properties=json.dumps(properties),
                        created_at_ms=_now_ms(),
                    )
                )
            except IntegrityError as exc:
                raise AlreadyExistsError(f"Namespace already exists: {display(namespace)}") from exc

    def load_namespace_properties(self, warehouse: str, namespace: Identifier) -> dict[str, str]:
        """The namespace's properties."""
        with self.read() as conn:
            row = conn.execute(
                select(namespaces_table.c.properties).where(
                    and_(namespaces_table.c.warehouse == warehouse, namespaces_table.c.name == namespace_key(namespace))
                )
            ).first()
        if row is None:
            raise NoSuchNamespaceError(f"Namespace does not exist: {display(namespace)}")
        return json.loads(row[0])

    def list_namespaces(
        self, warehouse: str, parent: Identifier = (), after: str | None = None, limit: int | None = None
    ) -> list[Identifier]:
        """Direct children of ``parent`` (top-level namespaces when empty), ordered by name."""
        with self.read() as conn:
            if parent:
                self.require_namespace(conn, warehouse, parent)
            query = select(namespaces_table.c.name).where(namespaces_table.c.warehouse == warehouse)
            if parent:
                query = query.where(namespaces_table.c.name.startswith(namespace_key(parent) + "\x1f", autoescape=True))
            if after is not None:
                query = query.where(namespaces_table.c.name > after)
            query = query.order_by(namespaces_table.c.name)
            rows = conn.execute(query).all()
        depth = len(parent) + 1
        result = [ns for ns in (namespace_from_key(r[0]) for r in rows) if len(ns) == depth]
        return result[:limit] if limit is not None else result

    def update_namespace_properties(
        self, warehouse: str, namespace: Identifier, removals: Sequence[str], updates: dict[str, str]
    ) -> tuple[list[str], list[str], list[str]]:
        """Apply property changes; returns (updated, removed, missing)."""
        with self.write() as conn:
            key = namespace_key(namespace)
            cond = and_(namespaces_table.c.warehouse == warehouse, namespaces_table.c.name == key)
            row = conn.execute(select(namespaces_table.c.properties).where(cond)).first()
            if row is None:
                raise NoSuchNamespaceError(f"Namespace does not exist: {display(namespace)}")
            props: dict[str, str] = json.loads(row[0])
            removed = [k for k in removals if k in props]
            missing = [k for k in removals if k not in props]
            for k in removed:
                del props[k]
            props.update(updates)
            conn.execute(update(namespaces_table).where(cond).values(properties=json.dumps(props)))
        return list(updates), removed, missing

    def drop_namespace(self, warehouse: str, namespace: Identifier) -> None:
        """Drop an empty namespace (no tables, views or child namespaces)."""
        key = namespace_key(namespace)
        with self.write() as conn:
            self.require_namespace(conn, warehouse, namespace)
            has_objects = conn.execute(
                select(objects_table.c.id)
                .where(and_(objects_table.c.warehouse == warehouse, objects_table.c.namespace == key))
                .limit(1)
            ).first()
            has_children = conn.execute(
                select(namespaces_table.c.id)
                .where(
                    and_(
                        namespaces_table.c.warehouse == warehouse,
                        namespaces_table.c.name.startswith(key + "\x1f", autoescape=True),
                    )
                )
                .limit(1)
            ).first()
            if has_objects or has_children:
                raise NamespaceNotEmptyError(f"Namespace is not empty: {display(namespace)}")
            conn.execute(
                delete(namespaces_table).where(
                    and_(namespaces_table.c.warehouse == warehouse, namespaces_table.c.name == key)
                )
            )

    # ---- tables and views ------------------------------------------------------------------
    def _object_cond(self, warehouse: str, namespace: Identifier, name: str):  # type: ignore[no-untyped-def]
        return and_(
            objects_table.c.warehouse == warehouse,
            objects_table.c.namespace == namespace_key(namespace),
            objects_table.c.name == name,
        )

    def get_object(self, warehouse: str, namespace: Identifier, name: str, kind: ObjectKind) -> StoredObject:
        """The current row of a table or view; raises the right 404 when absent."""
        with self.read() as conn:
            row = conn.execute(_SELECT_OBJECT, _key(warehouse, namespace, name)).first()
            if row is None or row[0] != kind:
                self.require_namespace(conn, warehouse, namespace)
                raise _missing(kind, namespace, name)
        return StoredObject(namespace, name, kind, row[1])

    def require_name_free(self, warehouse: str, namespace: Identifier, name: str) -> None:
        """Raise unless the namespace exists and no table or view holds ``name`` in it (before a create)."""
        with self.read() as conn:
            self.require_namespace(conn, warehouse, namespace)
            row = conn.execute(_SELECT_OBJECT, _key(warehouse, namespace, name)).first()
        if row is not None:
            raise already_exists(row[0], namespace, name)

    def find_object(self, warehouse: str, namespace: Identifier, name: str) -> StoredObject | None:
        """The row named so, table or view, or None."""
        with self.read() as conn:
            row = conn.execute(_SELECT_OBJECT, _key(warehouse, namespace, name)).first()
        return None if row is None else StoredObject(namespace, name, row[0], row[1])

    def list_objects(
        self,
        warehouse: str,
        namespace: Identifier,
        kind: ObjectKind,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[str]:
        """Names of the tables (or views) in a namespace, ordered by name."""
        with self.read() as conn:
            self.require_namespace(conn, warehouse, namespace)
            query = select(objects_table.c.name).where(
                and_(
                    objects_table.c.warehouse == warehouse,
                    objects_table.c.namespace == namespace_key(namespace),
                    objects_table.c.kind == kind,
                )
            )
            if after is not None:
                query = query.where(objects_table.c.name > after)
            query = query.order_by(objects_table.c.name)
            if limit is not None:
                query = query.limit(limit)
            return [r[0] for r in conn.execute(query).all()]

    def swap_locations(self, warehouse: str, swaps: Sequence[LocationSwap]) -> None:
        """Atomically apply every swap or none: the heart of every commit.

        A swap with ``expected=None`` creates the object; it fails if the name is taken.
        Otherwise the row must still hold ``expected``; if another writer moved it, the
        whole transaction rolls back with CommitFailedError (409), never a 5xx.
        """
        now = _now_ms()
        if len(swaps) == 1 and swaps[0].expected is not None:
            # The common commit is one conditional UPDATE: on an autocommit connection that
            # statement is a transaction of its own, with no BEGIN and COMMIT round trips.
            with _mapped_database_errors(), self.engine.connect() as conn:
                self._swap(conn, warehouse, swaps[0], now)
            return
        # A fixed lock order, so two multi-table commits can never deadlock each other.
        ordered = sorted(swaps, key=lambda sw: (namespace_key(sw.namespace), sw.name))
        with self.write() as conn:
            for swap in ordered:
                if swap.expected is None:
                    self._create(conn, warehouse, swap, now)
                else:
                    self._swap(conn, warehouse, swap, now)

    def _create(self, conn: Connection, warehouse: str, swap: LocationSwap, now: int) -> None:
        self.require_namespace(conn, warehouse, swap.namespace)
        existing = conn.execute(
            select(objects_table.c.kind).where(self._object_cond(warehouse, swap.namespace, swap.name))
        ).scalar()
        if existing is not None:
            raise already_exists(existing, swap.namespace, swap.name)
        try:
            conn.execute(
                insert(objects_table).values(
                    warehouse=warehouse,
                    namespace=namespace_key(swap.namespace),
                    name=swap.name,
                    kind=swap.kind,
                    metadata_location=swap.new,
                    previous_metadata_location=None,
                    updated_at_ms=now,
                )
            )
        except IntegrityError as exc:  # a concurrent create won the race
            raise already_exists(swap.kind, swap.namespace, swap.name) from exc

    def _swap(self, conn: Connection, warehouse: str, swap: LocationSwap, now: int) -> None:
        result = conn.execute(
            _SWAP_LOCATION,
            {
                **_key(warehouse, swap.namespace, swap.name),
                "b_kind": swap.kind,
                "expected": swap.expected,
                "expected_prev": swap.expected,
                "new": swap.new,
                "now": now,
            },
        )
        if result.rowcount == 1:
            return
        current = conn.execute(
            select(objects_table.c.metadata_location).where(
                and_(self._object_cond(warehouse, swap.namespace, swap.name), objects_table.c.kind == swap.kind)
            )
        ).first()
        if current is None:
            raise _missing(swap.kind, swap.namespace, swap.name)
        raise ConcurrentCommitError(
            f"Commit conflict on {display(swap.namespace, swap.name)}: "
            "its metadata changed since the commit was prepared; reload and retry"
        )

    def drop_object(self, warehouse: str, namespace: Identifier, name: str, kind: ObjectKind) -> str:
        """Delete a table or view row; returns the metadata location it had."""
        with self.write() as conn:
            cond = and_(self._object_cond(warehouse, namespace, name), objects_table.c.kind == kind)
            row = conn.execute(select(objects_table.c.metadata_location).where(cond)).first()
            if row is None:
                self.require_namespace(conn, warehouse, namespace)
                raise _missing(kind, namespace, name)
            conn.execute(delete(objects_table).where(cond))
        return row[0]

    def rename_object(
        self,
        warehouse: str,
        source: tuple[Identifier, str],
        destination: tuple[Identifier, str],
        kind: ObjectKind,
    ) -> None:
        """Move a table or view to another name, possibly in another namespace."""
        (src_ns, src_name), (dst_ns, dst_name) = source, destination
        with self.write() as conn:
            src_cond = and_(self._object_cond(warehouse, src_ns, src_name), objects_table.c.kind == kind)
            if conn.execute(select(objects_table.c.id).where(src_cond)).first() is None:
                self.require_namespace(conn, warehouse, src_ns)
                raise _missing(kind, src_ns, src_name)
            self.require_namespace(conn, warehouse, dst_ns)
            existing = conn.execute(
                select(objects_table.c.kind).where(self._object_cond(warehouse, dst_ns, dst_name))
            ).scalar()
            if existing is not None:
                raise already_exists(existing, dst_ns, dst_name)
            conn.execute(
                update(objects_table)
                .where(src_cond)
                .values(namespace=namespace_key(dst_ns), name=dst_name, updated_at_ms=_now_ms())
            )


def _missing(kind: ObjectKind, namespace: Identifier, name: str) -> Exception:
    if kind == "view":
        return NoSuchViewError(f"View does not exist: {display(namespace, name)}")
    return NoSuchTableError(f"Table does not exist: {display(namespace, name)}")


def already_exists(kind: str, namespace: Identifier, name: str) -> Exception:
    """The AlreadyExists error naming what holds the name."""
    what = "View" if kind == "view" else "Table"
    return AlreadyExistsError(f"{what} already exists: {display(namespace, name)}")


@contextmanager
def _mapped_database_errors() -> Iterator[None]:
    """Raise database failures as the client-facing errors of :func:`_database_error`."""
    try:
        yield
    except DBAPIError as exc:
        mapped = _database_error(exc)
        if mapped is exc:
            raise
        raise mapped from exc


def _database_error(exc: DBAPIError) -> Exception:
    """A database failure as a client-facing error: a race is a 409, a busy database a 503."""
    if isinstance(exc, IntegrityError):
        return exc
    code = getattr(getattr(exc, "orig", None), "pgcode", None)
    # 40001 serialization_failure, 40P01 deadlock_detected: another writer won, the commit may be retried.
    if code in ("40001", "40P01"):
        return ConcurrentCommitError("Commit conflict: a concurrent transaction changed the same rows; retry")
    message = str(exc).lower()
    if isinstance(exc, OperationalError) and ("locked" in message or "busy" in message):
        return ServiceUnavailableError("Catalog database is busy, retry later")
    return exc
