"""Answering a query: check it, resolve its tables' current versions, cache or run it.

The web process does the cheap parts (parse check, one conditional catalog request per
table, cache lookup); only a cache miss goes to a query worker, with the metadata file of
each table version it resolved, so the answer is cached under exactly the snapshots it
was computed from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from pyiceberg.catalog import Catalog

from commonlake.settings import Settings
from query_gateway.engine import QueryTask
from query_gateway.result_cache import CachedResult, ResultCache
from query_gateway.statements import Statement, TableRef, parse_statement
from query_gateway.table_versions import TableVersion, TableVersions
from query_gateway.workers import QueryWorkers


@dataclass
class Answer:
    """A query's result entry, whether it came from the cache, and the versions it read."""

    entry: CachedResult
    cached: bool
    versions: dict[str, int | None]
    seconds: float

    @property
    def truncated(self) -> bool:
        """Whether the rows were cut at the row limit."""
        return self.entry.result.truncated


class QueryService:
    """The gateway's query path, shared by every route."""

    def __init__(self, settings: Settings, catalog: Catalog) -> None:
        self.settings = settings
        self.catalog = catalog
        self.versions = TableVersions(catalog)
        self.cache = ResultCache(settings.gateway.cache_max_bytes)
        self.workers = QueryWorkers(settings)
        self._probes = ThreadPoolExecutor(max_workers=8, thread_name_prefix="table-version")

    def statement(self, sql: str, dialect: str = "postgres") -> Statement:
        """Check ``sql`` (QueryError 400 when it is not one read-only query)."""
        gateway = self.settings.gateway
        return parse_statement(sql, dialect, gateway.default_namespace, gateway.namespace_aliases)

    def current_versions(self, statement: Statement) -> dict[TableRef, TableVersion]:
        """Each table's current version, asked of the catalog now (in parallel)."""
        if len(statement.tables) <= 1:
            return {ref: self.versions.current(ref.identifier) for ref in statement.tables}
        futures = {ref: self._probes.submit(self.versions.current, ref.identifier) for ref in statement.tables}
        return {ref: future.result() for ref, future in futures.items()}

    def answer(
        self,
        sql: str,
        dialect: str = "postgres",
        row_limit: int | None = None,
        use_cache: bool = True,
        on_start: Callable[[Future], None] | None = None,
    ) -> Answer:
        """The result of ``sql`` over the tables' current snapshots, from the cache when it is still valid.

        ``on_start`` gets the running query's future when it goes to a worker (to cancel it).
        """
        began = time.perf_counter()
        statement = self.statement(sql, dialect)
        limit = min(row_limit, self.settings.gateway.row_limit) if row_limit else self.settings.gateway.row_limit
        versions = self.current_versions(statement)
        key = (statement.normalized, limit, tuple(sorted(v.cache_key for v in versions.values())))
        snapshot_ids = {ref.qualified: version.snapshot_id for ref, version in versions.items()}
        if use_cache and (entry := self.cache.get(key)) is not None:
            return Answer(entry, True, snapshot_ids, time.perf_counter() - began)
        task = QueryTask(
            sql=sql,
            dialect=dialect,
            metadata_locations={ref.qualified: version.metadata_location for ref, version in versions.items()},
            row_limit=limit,
        )
        result = self.workers.run(task, on_start)
        entry = self.cache.put(key, result)
        return Answer(entry, False, snapshot_ids, time.perf_counter() - began)

    def close(self) -> None:
        """Stop the workers and probe threads."""
        self.workers.close()
        self._probes.shutdown(wait=False)
