"""Query workers: DataFusion runs in child processes so no query can take the service down.

A query that runs past its time limit is stopped by killing its worker (a DataFusion
plan cannot be interrupted from another thread), and one that crashes or exhausts memory
takes only its worker with it; pebble's ProcessPool replaces the worker. Workers are
forked from a forkserver that preloads the engine, so a replacement starts in
milliseconds and never inherits the web server's threads.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool

from pebble import ProcessExpired, ProcessPool

from commonlake.settings import Settings
from query_gateway.engine import QueryEngine, QueryResult, QueryTask
from query_gateway.errors import QueryError

_engine: QueryEngine | None = None


def _start_worker(settings: Settings) -> None:
    global _engine
    _engine = QueryEngine(settings)


def _warm_up() -> None:
    """Run a first query so imports and DataFusion's first-session costs are paid at startup."""
    assert _engine is not None, "worker not initialised"
    _engine.run(QueryTask("SELECT 1", "postgres", {}, 1))


def _run(task: QueryTask) -> QueryResult:
    assert _engine is not None, "worker not initialised"
    return _engine.run(task)


class QueryWorkers:
    """A pool of engine processes with a per-query time limit."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.timeout = settings.gateway.query_timeout_seconds
        self._lock = threading.Lock()
        self._pool = self._start_pool()

    def _start_pool(self) -> ProcessPool:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["query_gateway.workers"])
        pool = ProcessPool(
            max_workers=self.settings.gateway.query_workers,
            initializer=_start_worker,
            initargs=(self.settings,),  # pickled with its secrets, never through the environment
            context=context,
        )
        for _ in range(self.settings.gateway.query_workers):
            pool.schedule(_warm_up)
        return pool

    def run(self, task: QueryTask, on_start: Callable[[Future], None] | None = None) -> QueryResult:
        """Run one query in a worker; QueryError on timeout, cancellation or a crashed worker.

        ``on_start`` receives the query's future: cancelling it stops the query (pebble
        kills the worker running it and starts another).
        """
        pool = self._pool
        future = pool.schedule(_run, args=(task,), timeout=self.timeout)
        if on_start is not None:
            on_start(future)
        try:
            return future.result()
        except CancelledError as exc:
            raise QueryError("The query was canceled", status=409) from exc
        except FutureTimeout as exc:
            message = f"Query exceeded the time limit of {self.timeout:g} s and was stopped"
            raise QueryError(message, status=408) from exc
        except ProcessExpired as exc:
            raise QueryError(
                f"The query's worker process died ({exc}); the query may need more memory than allowed",
                status=500,
            ) from exc
        except BrokenProcessPool as exc:
            with self._lock:
                if self._pool is pool:  # the first request to notice replaces the pool
                    pool.stop()
                    self._pool = self._start_pool()
            raise QueryError("The query workers were restarted; please retry", status=503) from exc

    def close(self) -> None:
        """Stop every worker."""
        self._pool.stop()
        self._pool.join(timeout=10)
