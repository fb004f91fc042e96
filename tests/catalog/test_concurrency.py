"""Concurrent writers through the REST API: every row and every snapshot lands, conflicts are 409s.

Writers are separate processes with real clients (PyIceberg, DuckDB) that retry on
CommitFailedException, as clients do: a 409 means "reload and try again", while a 5xx
would mean "state unknown". The server log must show no 5xx.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import threading
import time

import httpx
import pyarrow as pa
import pytest

from commonlake.settings import Settings
from tests.conftest import RunningCatalog

WRITERS = 8
APPENDS_PER_WRITER = 3
COMMITS_PER_THREAD = 10
SCHEMA = {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "x", "required": False, "type": "long"}]}
ROWS = pa.schema([pa.field("writer", pa.int64()), pa.field("seq", pa.int64())])


def pyiceberg_appender(settings_env: dict, table: str, writer: int, appends: int, go, results) -> None:
    """Append ``appends`` one-row batches, retrying each on commit conflicts."""
    import os

    from pyiceberg.catalog import load_catalog
    from pyiceberg.exceptions import CommitFailedException

    os.environ.update(settings_env)
    properties = Settings().rest_catalog_properties()
    go.wait()
    # Connect only now: a keep-alive connection left idle while the others start could be
    # closed by the server just as it is reused (a client-side race, not a catalog error).
    catalog = load_catalog("w", **properties)
    conflicts = 0
    for seq in range(appends):
        for _ in range(200):
            try:
                catalog.load_table(table).append(pa.table({"writer": [writer], "seq": [seq]}, schema=ROWS))
                break
            except CommitFailedException:
                conflicts += 1
        else:
            results.put(("gave-up", writer))
            return
    results.put(("ok", conflicts))


def duckdb_transactor(settings_env: dict, schema: str, writer: int, transactions: int, go, results) -> None:
    """Insert the same row into two tables in one DuckDB transaction (one POST /transactions/commit)."""
    import os

    import duckdb

    from commonlake.duckdb_attach import connect

    os.environ.update(settings_env)
    settings = Settings()
    go.wait()
    conflicts = 0
    for seq in range(transactions):
        for _ in range(200):
            con = connect(settings, alias="lake")
            try:
                con.execute("BEGIN")
                con.execute(f"INSERT INTO lake.{schema}.a VALUES ({writer}, {seq})")
                con.execute(f"INSERT INTO lake.{schema}.b VALUES ({writer}, {seq})")
                con.execute("COMMIT")
                break
            except duckdb.Error as exc:
                if "409" not in str(exc) and "CommitFailed" not in str(exc) and "conflict" not in str(exc).lower():
                    results.put(("error", str(exc)))
                    return
                conflicts += 1
            finally:
                con.close()
        else:
            results.put(("gave-up", writer))
            return
    results.put(("ok", conflicts))


def run_all(targets: list[tuple]) -> list[tuple]:
    ctx = mp.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=fn, args=(*args, go, results)) for fn, args in targets]
    for p in procs:
        p.start()
    time.sleep(0.5)
    go.set()
    out: list[tuple] = []
    deadline = time.monotonic() + 300
    while len(out) < len(procs) and time.monotonic() < deadline:
        try:
            out.append(results.get(timeout=1))
        except queue.Empty:
            if all(p.exitcode is not None for p in procs) and results.empty():
                break  # a worker died without reporting
    for p in procs:
        p.join(timeout=60)
    assert len(out) == len(procs), f"{len(procs) - len(out)} writer(s) died: exit codes {[p.exitcode for p in procs]}"
    return out


def history(table) -> list[int]:
    """Snapshot ids from the current one back through its parents."""
    by_id = {s.snapshot_id: s for s in table.metadata.snapshots}
    chain, current = [], table.current_snapshot()
    while current is not None:
        chain.append(current.snapshot_id)
        current = by_id.get(current.parent_snapshot_id) if current.parent_snapshot_id else None
    return chain


def server_errors(running: RunningCatalog) -> list[str]:
    log = (running.settings.resolved_data_dir / "logs" / "catalog.log").read_text()
    return [line for line in log.splitlines() if " 500" in line or "Traceback" in line]


def test_eight_processes_append_to_one_table(backend_catalog: RunningCatalog) -> None:
    cat = backend_catalog.catalog
    cat.create_namespace("race")
    cat.create_table("race.appends", schema=ROWS)
    env = backend_catalog.settings.to_env()
    results = run_all([(pyiceberg_appender, (env, "race.appends", w, APPENDS_PER_WRITER)) for w in range(WRITERS)])
    assert all(status == "ok" for status, _ in results), results

    table = cat.load_table("race.appends")
    rows = sorted(zip(*table.scan().to_arrow().to_pydict().values(), strict=True))
    assert rows == sorted((w, s) for w in range(WRITERS) for s in range(APPENDS_PER_WRITER))
    assert len(table.metadata.snapshots) == WRITERS * APPENDS_PER_WRITER
    assert len(history(table)) == WRITERS * APPENDS_PER_WRITER  # one linear history, nothing lost
    assert server_errors(backend_catalog) == []


@pytest.mark.slow
def test_multi_table_transactions_race_single_table_appends(backend_catalog: RunningCatalog) -> None:
    from commonlake.duckdb_attach import connect

    con = connect(backend_catalog.settings, alias="lake")
    con.execute("CREATE SCHEMA lake.txrace")
    con.execute("CREATE TABLE lake.txrace.a (writer BIGINT, seq BIGINT)")
    con.execute("CREATE TABLE lake.txrace.b (writer BIGINT, seq BIGINT)")
    con.close()
    env = backend_catalog.settings.to_env()
    per_writer = 2
    targets = [(duckdb_transactor, (env, "txrace", 100 + w, per_writer)) for w in range(4)]
    targets += [(pyiceberg_appender, (env, "txrace.a", w, per_writer)) for w in range(4)]
    results = run_all(targets)
    assert all(status == "ok" for status, _ in results), results

    cat = backend_catalog.catalog
    a, b = cat.load_table("txrace.a"), cat.load_table("txrace.b")
    a_rows = set(zip(*a.scan().to_arrow().to_pydict().values(), strict=True))
    b_rows = set(zip(*b.scan().to_arrow().to_pydict().values(), strict=True))
    transactional = {(100 + w, s) for w in range(4) for s in range(per_writer)}
    appended = {(w, s) for w in range(4) for s in range(per_writer)}
    assert b_rows == transactional  # every transaction reached b ...
    assert a_rows == transactional | appended  # ... and a, together with every single-table append
    assert a.scan().to_arrow().num_rows == len(transactional | appended)  # no duplicates
    assert len(a.metadata.snapshots) == 16 and len(b.metadata.snapshots) == 8
    assert server_errors(backend_catalog) == []


def test_threads_committing_to_one_table_through_one_server_all_land(backend_catalog: RunningCatalog) -> None:
    """Concurrent commits to one table in one server process queue up: each lands once, none is refused."""
    path = "/v1/commonlake/namespaces/race/tables/props"
    with httpx.Client(base_url=backend_catalog.uri, timeout=60) as http:
        http.post("/v1/commonlake/namespaces", json={"namespace": ["race"]})
        assert http.post("/v1/commonlake/namespaces/race/tables", json={"name": "props", "schema": SCHEMA}).is_success

    statuses: list[int] = []

    def writer(w: int) -> None:
        with httpx.Client(base_url=backend_catalog.uri, timeout=60) as http:
            for n in range(COMMITS_PER_THREAD):
                update = {"action": "set-properties", "updates": {f"w{w}-{n}": "1"}}
                statuses.append(http.post(path, json={"requirements": [], "updates": [update]}).status_code)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert statuses == [200] * (WRITERS * COMMITS_PER_THREAD)
    with httpx.Client(base_url=backend_catalog.uri, timeout=60) as http:
        metadata = http.get(path).json()["metadata"]
    written = {k for k in metadata["properties"] if k.startswith("w")}
    assert written == {f"w{w}-{n}" for w in range(WRITERS) for n in range(COMMITS_PER_THREAD)}
    assert len(metadata["metadata-log"]) == WRITERS * COMMITS_PER_THREAD  # one new metadata file per commit
    assert server_errors(backend_catalog) == []
