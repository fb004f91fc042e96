"""Answering a query: check it, resolve its tables' current versions, cache or run it.

The web process does the cheap parts (parse check, one conditional catalog request per
table, cache lookup); only a cache miss goes to a query worker, with the metadata file of
each table version it resolved, so the answer is cached under exactly the snapshots it
was computed from. When every table's version was unchanged at its last probe, the query
starts on those versions while the catalog is asked, and its result is used only if the
catalog confirms them.
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
from query_gateway.workers import QueryWorkers, Submitted


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
        """Each table's current version, asked of the catalog now (the first table here, the others in parallel)."""
        refs = statement.tables
        futures = {ref: self._probes.submit(self.versions.current, ref.identifier) for ref in refs[1:]}
        found = {ref: self.versions.current(ref.identifier) for ref in refs[:1]}
        found.update((ref, future.result()) for ref, future in futures.items())
        return found

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
        early = self._start_early(statement, sql, dialect, limit, use_cache, on_start)
        versions = self.current_versions(statement)
        key = _cache_key(statement, limit, versions)
        snapshot_ids = {ref.qualified: version.snapshot_id for ref, version in versions.items()}
        if use_cache and (entry := self.cache.get(key)) is not None:
            return Answer(entry, True, snapshot_ids, time.perf_counter() - began)
        task = _task(sql, dialect, limit, versions)
        if early is not None and early.task == task:
            result = self.workers.result(early, on_start)
        else:  # no guess, or a table changed since: its answer is not used
            result = self.workers.run(task, on_start)
        entry = self.cache.put(key, result)
        return Answer(entry, False, snapshot_ids, time.perf_counter() - began)

    def _start_early(
        self,
        statement: Statement,
        sql: str,
        dialect: str,
        limit: int,
        use_cache: bool,
        on_start: Callable[[Future], None] | None,
    ) -> Submitted | None:
        """Start the query on the tables' last known versions while the catalog is asked for the current ones.

        The catalog's answers and the query then overlap; the result is used only when the
        catalog confirms exactly those versions (metadata files). Only for tables whose last
        probe found them unchanged, so a table that keeps changing costs no wasted runs, and
        not when the result cache probably holds the answer.
        """
        if not statement.tables:
            return None
        guessed = {ref: self.versions.settled(ref.identifier) for ref in statement.tables}
        known = {ref: version for ref, version in guessed.items() if version is not None}
        if len(known) != len(guessed) or (use_cache and _cache_key(statement, limit, known) in self.cache):
            return None
        return self.workers.submit(_task(sql, dialect, limit, known), on_start)

    def close(self) -> None:
        """Stop the workers and probe threads."""
        self.workers.close()
        self._probes.shutdown(wait=False)


def _cache_key(statement: Statement, limit: int, versions: dict[TableRef, TableVersion]) -> tuple:
    return (statement.normalized, limit, tuple(sorted(v.cache_key for v in versions.values())))


def _task(sql: str, dialect: str, limit: int, versions: dict[TableRef, TableVersion]) -> QueryTask:
    locations = {ref.qualified: version.metadata_location for ref, version in versions.items()}
    return QueryTask(sql=sql, dialect=dialect, metadata_locations=locations, row_limit=limit)
