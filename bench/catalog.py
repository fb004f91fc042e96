"""Benchmark of the REST catalog against PyIceberg's in-process SqlCatalog, on SQLite and PostgreSQL.

    python bench/catalog.py                      # both backends (PostgreSQL skipped if unreachable)
    python bench/catalog.py --backends sqlite --snapshots 200 --seconds 2

For each backend it starts the catalog server (``commonlake serve catalog --workers N``) on a
fresh database and ``file://`` warehouse, and measures, side by side with an in-process
PyIceberg ``SqlCatalog`` on the same kind of database doing the same operations:

* loadTable p50/p99 on a table with N snapshots (``snapshots=all`` and ``refs``), and loadTable
  requests/s with 16 concurrent clients;
* catalog-only commits/s (``set-properties``, and appends of a snapshot whose manifest list was
  written beforehand, so no data file is written) from 1 writer and from 8 writer processes on
  one table, with the number of 409s and of lost commits (must be 0).

HTTP clients are plain ``http.client`` keep-alive connections (cheap, so the figures are the
server's), and concurrent clients are separate processes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from commonlake.servers import ServerProcess, free_port  # noqa: E402
from commonlake.settings import Settings  # noqa: E402

PG_ADMIN_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
NS = "bench"
SCHEMA = {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "x", "required": False, "type": "long"}]}
TARGETS = {"load_refs_p50_ms": 5.0, "load_rps_16": 1000.0, "commits_1w": 200.0, "commits_8w": 100.0}


# ---- a minimal HTTP client ---------------------------------------------------------------------
class Client:
    """One keep-alive connection to the catalog."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=60)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection: reconnect once.
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.conn.request(method, path, body=payload, headers=headers)
            response = self.conn.getresponse()
        return response.status, response.read()


def table_path(table: str) -> str:
    return f"/v1/commonlake/namespaces/{NS}/tables/{table}"


def snapshot_commit(state: dict, manifest_list: str) -> dict:
    """An append commit of a snapshot whose manifest list exists already (a catalog-only commit)."""
    snapshot_id = random.getrandbits(62)
    parent = state["current-snapshot-id"]
    snapshot = {
        "snapshot-id": snapshot_id,
        "sequence-number": state["last-sequence-number"] + 1,
        "timestamp-ms": int(time.time() * 1000),
        "manifest-list": manifest_list,
        "summary": {"operation": "append"},
        "schema-id": 0,
    }
    if parent is not None:
        snapshot["parent-snapshot-id"] = parent
    return {
        "requirements": [{"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": parent}],
        "updates": [
            {"action": "add-snapshot", "snapshot": snapshot},
            {"action": "set-snapshot-ref", "ref-name": "main", "type": "branch", "snapshot-id": snapshot_id},
        ],
    }


def table_state(metadata: dict) -> dict:
    current = metadata.get("current-snapshot-id")
    return {
        "current-snapshot-id": None if current in (None, -1) else current,
        "last-sequence-number": metadata.get("last-sequence-number", 0),
    }


# ---- workers (module level so multiprocessing can start them) ---------------------------------
def _load_worker(host: str, port: int, path: str, threads: int, seconds: float, gate: StartGate, queue) -> None:
    counts = [0] * threads
    errors = [0] * threads
    clients = [Client(host, port) for _ in range(threads)]
    gate.wait()
    stop_at = time.perf_counter() + seconds

    def run(i: int) -> None:
        client = clients[i]
        while time.perf_counter() < stop_at:
            status, _ = client.request("GET", path)
            counts[i] += 1
            errors[i] += status != 200

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    queue.put((sum(counts), sum(errors)))


def _http_writer(host: str, port: int, table: str, kind: str, writer: int, commits: int, ml: str, gate, queue):
    client = Client(host, port)
    gate.wait()
    conflicts = 0
    errors = 0
    state = None
    for n in range(commits):
        while True:
            if kind == "props":
                update = {"action": "set-properties", "updates": {f"w{writer}-{n}": "1"}}
                body = {"requirements": [], "updates": [update]}
            else:
                if state is None:
                    _, raw = client.request("GET", table_path(table) + "?snapshots=refs")
                    state = table_state(json.loads(raw)["metadata"])
                body = snapshot_commit(state, ml)
            status, raw = client.request("POST", table_path(table), body)
            if status == 200:
                state = table_state(json.loads(raw)["metadata"]) if kind == "append" else None
                break
            if status == 409:
                conflicts += 1
                state = None
                continue
            errors += 1
            print(f"writer {writer}: HTTP {status}: {raw[:300]!r}", file=sys.stderr)
            break
    queue.put((conflicts, errors))


def _sql_writer(sql_props: dict, table: str, kind: str, writer: int, commits: int, ml: str, gate, queue):
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.exceptions import CommitFailedException

    catalog = SqlCatalog("floor", **sql_props)
    catalog.load_table((NS, table))
    gate.wait()
    conflicts = 0
    for n in range(commits):
        while True:
            tbl = catalog.load_table((NS, table))
            if kind == "props":
                requirements, updates = (), _props_update(writer, n)
            else:
                requirements, updates = _append_update(tbl.metadata, ml)
            try:
                catalog.commit_table(tbl, requirements, updates)
                break
            except CommitFailedException:
                conflicts += 1
    queue.put((conflicts, 0))


def _props_update(writer: int, n: int) -> tuple:
    from pyiceberg.table.update import SetPropertiesUpdate

    return (SetPropertiesUpdate(updates={f"w{writer}-{n}": "1"}),)


def _append_update(metadata, ml: str) -> tuple[tuple, tuple]:
    from pyiceberg.table.snapshots import Operation, Snapshot, Summary
    from pyiceberg.table.update import AddSnapshotUpdate, AssertRefSnapshotId, SetSnapshotRefUpdate

    sid = random.getrandbits(62)
    snap = Snapshot(
        snapshot_id=sid,
        parent_snapshot_id=metadata.current_snapshot_id,
        sequence_number=metadata.last_sequence_number + 1,
        timestamp_ms=int(time.time() * 1000),
        manifest_list=ml,
        summary=Summary(Operation.APPEND),
        schema_id=0,
    )
    return (
        (AssertRefSnapshotId(ref="main", snapshot_id=metadata.current_snapshot_id),),
        (AddSnapshotUpdate(snapshot=snap), SetSnapshotRefUpdate(ref_name="main", type="branch", snapshot_id=sid)),
    )


def _sql_load_worker(sql_props: dict, table: str, threads: int, seconds: float, gate: StartGate, queue) -> None:
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("floor", **sql_props)
    catalog.load_table((NS, table))
    gate.wait()
    counts = [0] * threads
    stop_at = time.perf_counter() + seconds

    def run(i: int) -> None:
        while time.perf_counter() < stop_at:
            catalog.load_table((NS, table))
            counts[i] += 1

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    queue.put((sum(counts), 0))


class StartGate:
    """Lets worker processes finish starting (imports, connections) before the clock starts."""

    def __init__(self, ready: mp.Queue, go: mp.Event) -> None:
        self.ready, self.go = ready, go

    def wait(self) -> None:
        self.ready.put(True)
        self.go.wait()


def run_processes(target: Callable, args_per_process: list[tuple]) -> tuple[list, float]:
    """Run one process per argument tuple, timed from when all are ready; returns results and wall time."""
    ctx = mp.get_context("spawn")
    queue, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    gate = StartGate(ready, go)
    procs = [ctx.Process(target=target, args=(*args, gate, queue)) for args in args_per_process]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    start = time.perf_counter()
    go.set()
    results = [queue.get(timeout=600) for _ in procs]
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    return results, elapsed


# ---- measurements ---------------------------------------------------------------------------
@dataclass
class Figures:
    values: dict[str, float] = field(default_factory=dict)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def time_calls(call: Callable[[], object], n: int) -> list[float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t) * 1000)
    return samples


def bench_backend(name: str, db_url: str, floor_url: str, args: argparse.Namespace, work: Path) -> dict[str, dict]:
    from pyiceberg.catalog.sql import SqlCatalog

    settings = Settings(data_dir=work / "lake").with_updates(
        catalog={
            "host": "127.0.0.1",
            "port": free_port(),
            "database_url": db_url,
            "database_synchronous_commit": args.synchronous_commit == "on",
        }
    )
    server = ServerProcess(
        "catalog", settings, "127.0.0.1", settings.catalog.port, work / "catalog.log", workers=args.workers
    ).start()
    host, port = "127.0.0.1", settings.catalog.port
    ours: dict[str, float] = {}
    floor: dict[str, float] = {}
    load_before = os.getloadavg()[0]
    try:
        client = Client(host, port)
        assert client.request("POST", "/v1/commonlake/namespaces", {"namespace": [NS]})[0] == 200
        ml = (work / "manifest-list.avro").as_uri()  # never read by a catalog-only commit
        (work / "manifest-list.avro").write_bytes(b"")
        for table in ("snaps", "props", "appends"):
            create = {"name": table, "schema": SCHEMA}
            status, raw = client.request("POST", f"/v1/commonlake/namespaces/{NS}/tables", create)
            assert status == 200, raw

        # A table with N snapshots, built through the REST API.
        print(f"  [{name}] building a table with {args.snapshots} snapshots ...", flush=True)
        state = {"current-snapshot-id": None, "last-sequence-number": 0}
        for _ in range(args.snapshots):
            status, raw = client.request("POST", table_path("snaps"), snapshot_commit(state, ml))
            assert status == 200, raw
            state = table_state(json.loads(raw)["metadata"])
        metadata_location = json.loads(client.request("GET", table_path("snaps"))[1])["metadata-location"]

        # The floor: PyIceberg's SqlCatalog in this process, on the same kind of database.
        sql_props = {"uri": floor_url, "warehouse": (work / "floor").as_uri()}
        (work / "floor").mkdir()
        sql = SqlCatalog("floor", **sql_props)
        sql.create_namespace(NS)
        sql.register_table((NS, "snaps"), metadata_location)
        for table in ("props", "appends"):
            sql.create_table((NS, table), schema=_schema())

        # loadTable latency.
        print(f"  [{name}] loadTable latency ...", flush=True)
        for mode in ("all", "refs"):
            client.request("GET", table_path("snaps") + f"?snapshots={mode}")  # warm the cache
            url = table_path("snaps") + f"?snapshots={mode}"
            samples = time_calls(lambda u=url: client.request("GET", u), args.loads)
            ours[f"loadTable {mode} p50 ms"] = percentile(samples, 0.5)
            ours[f"loadTable {mode} p99 ms"] = percentile(samples, 0.99)
        samples = time_calls(lambda: sql.load_table((NS, "snaps")), max(20, args.loads // 10))
        for mode in ("all", "refs"):
            floor[f"loadTable {mode} p50 ms"] = percentile(samples, 0.5)
            floor[f"loadTable {mode} p99 ms"] = percentile(samples, 0.99)

        # loadTable throughput, 16 clients (4 processes x 4 threads).
        print(f"  [{name}] loadTable throughput, 16 clients ...", flush=True)
        path = table_path("snaps") + "?snapshots=refs"
        results, _ = run_processes(_load_worker, [(host, port, path, 4, args.seconds)] * 4)
        ours["loadTable/s, 16 clients"] = sum(r[0] for r in results) / args.seconds
        ours["loadTable errors"] = sum(r[1] for r in results)
        results, _ = run_processes(_sql_load_worker, [(sql_props, "snaps", 4, args.seconds)] * 4)
        floor["loadTable/s, 16 clients"] = sum(r[0] for r in results) / args.seconds

        # Catalog-only commits, 1 writer.
        print(f"  [{name}] commits, 1 writer ...", flush=True)
        for kind, table in (("props", "props"), ("append", "appends")):
            results, elapsed = run_processes(_http_writer, [(host, port, table, kind, 0, args.commits, ml)])
            ours[f"{kind} commits/s, 1 writer"] = args.commits / elapsed
            results, elapsed = run_processes(_sql_writer, [(sql_props, table, kind, 0, args.commits, ml)])
            floor[f"{kind} commits/s, 1 writer"] = args.commits / elapsed

        # Catalog-only commits, 8 writers on one table; then count what landed.
        print(f"  [{name}] commits, 8 writers ...", flush=True)
        per_writer = max(1, args.commits // 8)
        for kind, table in (("props", "props"), ("append", "appends")):
            before = _count(client, table, kind)
            results, elapsed = run_processes(
                _http_writer, [(host, port, table, kind, 100 + w, per_writer, ml) for w in range(8)]
            )
            ours[f"{kind} commits/s, 8 writers"] = 8 * per_writer / elapsed
            ours[f"{kind} 409s, 8 writers"] = sum(r[0] for r in results)
            ours[f"{kind} errors, 8 writers"] = sum(r[1] for r in results)
            ours[f"{kind} lost commits"] = 8 * per_writer - (_count(client, table, kind) - before)

            before = _sql_count(sql, table, kind)
            results, elapsed = run_processes(
                _sql_writer, [(sql_props, table, kind, 100 + w, per_writer, ml) for w in range(8)]
            )
            floor[f"{kind} commits/s, 8 writers"] = 8 * per_writer / elapsed
            floor[f"{kind} 409s, 8 writers"] = sum(r[0] for r in results)
            floor[f"{kind} lost commits"] = 8 * per_writer - (_sql_count(sql, table, kind) - before)
    finally:
        server.stop()
    # The machine's 1-minute load average around the run: figures from a busy machine are lower.
    return {"ours": ours, "floor": floor, "load": {"before": load_before, "after": os.getloadavg()[0]}}


def _schema():
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField

    return Schema(NestedField(1, "x", LongType(), required=False))


def _count(client: Client, table: str, kind: str) -> int:
    metadata = json.loads(client.request("GET", table_path(table))[1])["metadata"]
    if kind == "props":
        return sum(1 for k in metadata.get("properties", {}) if k.startswith("w"))
    return len(metadata.get("snapshots", []))


def _sql_count(sql, table: str, kind: str) -> int:
    metadata = sql.load_table((NS, table)).metadata
    if kind == "props":
        return sum(1 for k in metadata.properties if k.startswith("w"))
    return len(metadata.snapshots)


# ---- PostgreSQL databases ----------------------------------------------------------------------
def create_pg_database() -> str | None:
    """A fresh PostgreSQL database for this run, or None when the server is unreachable."""
    from sqlalchemy import create_engine, text

    name = f"commonlake_bench_{uuid.uuid4().hex[:10]}"
    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except Exception as exc:  # unreachable or refused
        print(f"PostgreSQL unreachable ({type(exc).__name__}); skipping it", file=sys.stderr)
        return None
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def pg_commit_ms(url: str, commits: int = 200) -> float:
    """p50 of a one-row UPDATE committed on its own: the floor of a catalog commit, mostly the WAL fsync."""
    import psycopg2

    conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE TABLE IF NOT EXISTS bench_fsync (id INT PRIMARY KEY, n INT)")
    cur.execute("INSERT INTO bench_fsync VALUES (1, 0) ON CONFLICT DO NOTHING")
    samples = time_calls(lambda: cur.execute("UPDATE bench_fsync SET n = n + 1 WHERE id = 1"), commits)
    cur.execute("DROP TABLE bench_fsync")
    conn.close()
    return percentile(samples, 0.5)


def drop_pg_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    engine.dispose()


# ---- report ---------------------------------------------------------------------------------------
def print_report(results: dict[str, dict[str, dict]]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for backend, figures in results.items():
        table = Table(title=f"catalog vs PyIceberg SqlCatalog (in-process) — {backend}")
        for col in ("measure", "REST catalog", "SqlCatalog floor", "ratio (ours/floor)"):
            table.add_column(col, justify="right" if col != "measure" else "left")
        for key, value in figures["ours"].items():
            base = figures["floor"].get(key)
            ratio = f"{value / base:.2f}" if base else "-"
            table.add_row(key, f"{value:,.2f}", "-" if base is None else f"{base:,.2f}", ratio)
        console.print(table)
        load = figures["load"]
        console.print(
            f"  machine load average (1 min, {os.cpu_count()} CPUs): "
            f"{load['before']:.1f} before the run, {load['after']:.1f} after"
        )
        if "commit_ms" in load:  # mostly the WAL fsync: the floor of every catalog commit
            before, after = load["commit_ms"]
            console.print(
                f"  a bare one-row PostgreSQL commit (p50): {before:.2f} ms before the run, {after:.2f} ms after"
            )
        ours = figures["ours"]
        checks = [
            ("loadTable refs p50 < 5 ms", ours["loadTable refs p50 ms"] < TARGETS["load_refs_p50_ms"]),
            ("loadTable >= 1000/s with 16 clients", ours["loadTable/s, 16 clients"] >= TARGETS["load_rps_16"]),
            ("commits >= 200/s, 1 writer", ours["props commits/s, 1 writer"] >= TARGETS["commits_1w"]),
            ("commits >= 100/s, 8 writers", ours["props commits/s, 8 writers"] >= TARGETS["commits_8w"]),
            ("0 lost commits", ours["props lost commits"] == 0 and ours["append lost commits"] == 0),
        ]
        for label, ok in checks:
            console.print(f"  {'[green]met[/]' if ok else '[red]MISSED[/]'}  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--snapshots", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=500, help="sequential loadTable calls per mode")
    parser.add_argument("--commits", type=int, default=200, help="commits per measurement")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of the throughput run")
    parser.add_argument("--workers", type=int, default=2, help="catalog server worker processes")
    parser.add_argument(
        "--synchronous-commit",
        choices=("on", "off"),
        default="on",
        help="off: the catalog's opt-in durability trade-off on PostgreSQL (catalog.database_synchronous_commit=false)",
    )
    args = parser.parse_args()
    os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")

    results: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="commonlake-bench-") as tmp:
        for backend in args.backends.split(","):
            work = Path(tmp) / backend
            work.mkdir()
            if backend == "sqlite":
                results["SQLite"] = bench_backend(
                    "sqlite", f"sqlite:///{work / 'catalog.db'}", f"sqlite:///{work / 'floor.db'}", args, work
                )
            elif backend == "postgres":
                ours_url, floor_url = create_pg_database(), create_pg_database()
                if ours_url is None or floor_url is None:
                    continue
                try:
                    fsync_before = pg_commit_ms(floor_url)
                    results["PostgreSQL"] = bench_backend("postgres", ours_url, floor_url, args, work)
                    results["PostgreSQL"]["load"]["commit_ms"] = (fsync_before, pg_commit_ms(floor_url))
                finally:
                    drop_pg_database(ours_url)
                    drop_pg_database(floor_url)
    print_report(results)


if __name__ == "__main__":
    main()
