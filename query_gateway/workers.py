"""Query workers: DataFusion runs in child processes so no query can take the service down.

A query that runs past its time limit is stopped by killing its worker (a DataFusion
plan cannot be interrupted from another thread), and one that crashes or exhausts memory
takes only its worker with it; pebble's ProcessPool replaces the worker. Workers are
forked from a forkserver that preloads the engine, so a replacement starts in
milliseconds and never inherits the web server's threads.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Submitted:
    """A query sent to a worker: its task, its future, and the pool that runs it."""

    task: QueryTask
    future: Future
    pool: ProcessPool


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

    def _replace(self, pool: ProcessPool) -> None:
        """Start a new pool in place of a broken one (once, whoever notices first)."""
        with self._lock:
            if self._pool is pool:
                pool.stop()
                self._pool = self._start_pool()

    def submit(self, task: QueryTask, on_start: Callable[[Future], None] | None = None) -> Submitted:
        """Send one query to a worker without waiting for it.

        ``on_start`` receives the query's future: cancelling it stops the query (pebble
        kills the worker running it and starts another).
        """
        for _ in range(2):
            pool = self._pool
            try:
                future = pool.schedule(_run, args=(task,), timeout=self.timeout)
            except RuntimeError:  # pebble refuses tasks once its pool broke (see result())
                self._replace(pool)
                continue
            if on_start is not None:
                on_start(future)
            return Submitted(task, future, pool)
        raise QueryError("The query workers are restarting; please retry", status=503)

    def result(self, submitted: Submitted, on_start: Callable[[Future], None] | None = None) -> QueryResult:
        """Wait for a submitted query; QueryError on timeout, cancellation or a worker that died running it."""
        for attempt in range(2):
            try:
                return submitted.future.result()
            except CancelledError as exc:
                raise QueryError("The query was canceled", status=409) from exc
            except FutureTimeout as exc:
                message = f"Query exceeded the time limit of {self.timeout:g} s and was stopped"
                raise QueryError(message, status=408) from exc
            except QueryError:
                raise
            except ProcessExpired as exc:
                # Not run again: the query itself may be what killed its worker (the OOM killer).
                raise QueryError(
                    f"The query's worker process died ({_exit_reason(exc.exitcode)}) while running it; "
                    "the query may need more memory than the machine could give. The gateway started a new worker.",
                    status=500,
                ) from exc
            except BrokenProcessPool as exc:
                # pebble breaks the whole pool when a worker dies while no query runs (an idle worker was
                # killed): the queries waiting then never reached a worker, so they run again on a new pool.
                self._replace(submitted.pool)
                if attempt:
                    raise QueryError("The query workers were restarted; please retry", status=503) from exc
                submitted = self.submit(submitted.task, on_start)
            except Exception as exc:  # a bug or an unreadable file, raised in the worker: still a clear answer
                first_line = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
                raise QueryError(f"The query failed in the engine: {type(exc).__name__}: {first_line}", 500) from exc
        raise AssertionError("unreachable")

    def run(self, task: QueryTask, on_start: Callable[[Future], None] | None = None) -> QueryResult:
        """Run one query in a worker (``submit`` then ``result``)."""
        return self.result(self.submit(task, on_start), on_start)

    def close(self) -> None:
        """Stop every worker."""
        self._pool.stop()
        self._pool.join(timeout=10)


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
