"""Queries run in the background, for the Open Source Observer client contract (pyoso).

``POST /v1/async-sql`` starts one and ``GET /v1/async-sql?id=`` reports its status
(queued, running, completed, failed or canceled: ``DELETE /v1/async-sql?id=`` cancels a
query, killing the worker that runs it). When it completes, its result is at a capability
URL (an unguessable id: pyoso fetches it without credentials) for ``async_result_ttl_seconds``.
"""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from query_gateway.errors import QueryError
from query_gateway.service import Answer, QueryService

Status = Literal["queued", "running", "completed", "failed", "canceled"]


@dataclass
class AsyncQuery:
    """One background query."""

    id: str
    owner: str
    sql: str
    status: Status = "queued"
    created: float = field(default_factory=time.monotonic)
    answer: Answer | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    cancel_requested: bool = False
    running: Future | None = None  # the worker's future, once the query reached one


class AsyncQueries:
    """Starts background queries and keeps them until their results expire."""

    def __init__(self, service: QueryService, ttl_seconds: float, max_running: int = 8) -> None:
        self.service = service
        self.ttl_seconds = ttl_seconds
        self._queries: dict[str, AsyncQuery] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=max_running, thread_name_prefix="async-sql")

    def submit(self, sql: str, owner: str, dialect: str) -> AsyncQuery:
        """Start ``sql`` in the background (its parse check and tables are checked first, here)."""
        statement = self.service.statement(sql, dialect)
        self.service.current_versions(statement)  # unknown tables: 404 now, not a failed job later
        self._expire()
        query = AsyncQuery(id=secrets.token_urlsafe(24), owner=owner, sql=sql)
        with self._lock:
            self._queries[query.id] = query
        self._executor.submit(self._run, query, dialect)
        return query

    def _run(self, query: AsyncQuery, dialect: str) -> None:
        with self._lock:
            if query.cancel_requested:
                query.status = "canceled"
                query.done.set()
                return
            query.status = "running"
        try:
            query.answer = self.service.answer(query.sql, dialect, on_start=lambda f: self._started(query, f))
            query.status = "completed"
        except QueryError as exc:
            query.error, query.status = exc.message, "canceled" if query.cancel_requested else "failed"
        except Exception as exc:  # reported to the client as a failed query, never lost
            query.error, query.status = f"Query failed: {exc}", "failed"
        finally:
            query.done.set()

    def _started(self, query: AsyncQuery, future: Future) -> None:
        with self._lock:
            query.running = future
            cancel = query.cancel_requested
        if cancel:
            future.cancel()

    def cancel(self, query_id: str, owner: str) -> AsyncQuery:
        """Cancel a queued or running query of this owner (a finished one is left as it is)."""
        query = self.get(query_id, owner)
        with self._lock:
            if query.done.is_set():
                return query
            query.cancel_requested = True
            future = query.running
        if future is not None:
            future.cancel()  # a running pebble future: its worker is killed and replaced
        return query

    def get(self, query_id: str, owner: str | None = None) -> AsyncQuery:
        """The query with this id (of this owner when given); QueryError 404 otherwise."""
        with self._lock:
            query = self._queries.get(query_id)
        if query is None or (owner is not None and query.owner != owner) or self._expired(query):
            raise QueryError(f"No query with id {query_id!r} (unknown, expired or not yours)", status=404)
        return query

    def _expired(self, query: AsyncQuery) -> bool:
        return time.monotonic() - query.created > self.ttl_seconds

    def _expire(self) -> None:
        with self._lock:
            for query_id in [q.id for q in self._queries.values() if self._expired(q) and q.done.is_set()]:
                del self._queries[query_id]

    def close(self) -> None:
        """Stop starting queries."""
        self._executor.shutdown(wait=False, cancel_futures=True)
