"""Catalog test fixtures: a catalog server per backend (SQLite, and PostgreSQL when reachable).

Each PostgreSQL-backed server gets a database of its own, created for the test run and
dropped afterwards, so parallel runs and other suites never collide.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from commonlake.settings import Settings
from tests.conftest import RunningCatalog, make_settings, start_catalog

POSTGRES_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@dataclass
class ScratchDatabase:
    """A PostgreSQL database that exists for one fixture's lifetime."""

    url: str

    @classmethod
    def create(cls) -> ScratchDatabase:
        name = f"commonlake_catalog_{uuid.uuid4().hex[:12]}"
        try:
            engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            engine.dispose()
        except Exception as exc:
            pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable ({type(exc).__name__}: {exc})")
        return cls(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)

    def drop(self) -> None:
        engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.url.rsplit("/", 1)[1]}" WITH (FORCE)'))
        engine.dispose()


def database_url(backend: str, stack: list[ScratchDatabase]) -> str | None:
    """The catalog database URL for a backend (None = the SQLite default in the data dir)."""
    if backend == "sqlite":
        return None
    db = ScratchDatabase.create()
    stack.append(db)
    return db.url


def catalog_settings(data_dir: Path, db_url: str | None, **catalog: object) -> Settings:
    """Test settings with the given catalog database and extra catalog options."""
    changes: dict[str, object] = dict(catalog)
    if db_url:
        changes["database_url"] = db_url
    settings = make_settings(data_dir)
    return settings.with_updates(catalog=changes) if changes else settings


@pytest.fixture(scope="module", params=BACKENDS)
def backend_catalog(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningCatalog]:
    """A catalog server shared by a module's tests, once on SQLite and once on PostgreSQL."""
    databases: list[ScratchDatabase] = []
    url = database_url(request.param, databases)
    running = start_catalog(catalog_settings(tmp_path_factory.mktemp(f"lake-{request.param}"), url))
    try:
        yield running
    finally:
        running.server.stop()
        for db in databases:
            db.drop()


@pytest.fixture
def http(backend_catalog: RunningCatalog) -> Iterator[httpx.Client]:
    """A plain HTTP client on the module's catalog server (prefix = the warehouse name)."""
    with httpx.Client(base_url=backend_catalog.uri, timeout=30) as client:
        yield client


@pytest.fixture
def scratch_database() -> Iterator[str]:
    """A PostgreSQL database for one test (skips when PostgreSQL is unreachable)."""
    db = ScratchDatabase.create()
    try:
        yield db.url
    finally:
        db.drop()
