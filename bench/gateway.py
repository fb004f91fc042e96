"""Benchmark of the query gateway, side by side with DuckDB reading the same Iceberg tables.

    python bench/gateway.py [--events 10000000] [--iterations 30] [--seconds 8]

1. Generates 10 million GitHub-like events (numpy, seeded: Zipf-distributed projects,
   repositories and developers, weekly cycle) and aggregates them with DuckDB into
   OSO-shaped marts (projects_v1, collections_v1, projects_by_collection_v1, metrics_v0,
   timeseries_metrics_by_project_v0, key_metrics_by_project_v0), written through a real
   catalog server with PyIceberg (time series sorted by project_id, 16 data files).
   The SQLMesh models are not used here: the benchmark measures serving, not modelling.
2. Starts the gateway and measures a fixed query mix over HTTP: a project's monthly time
   series, top 20 projects by a metric, one point lookup, a collection aggregate. Each
   uncached (``Cache-Control: no-cache``), cached, and the point lookup with pruning
   defeated; then requests/s with 16 concurrent clients.
3. Runs the same queries in DuckDB (iceberg extension, attached to the same catalog),
   alternating with the gateway's uncached requests, so that both see the same load when
   the machine is shared (timed one after the other, the ratio followed the load swings).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pyarrow as pa
from pyiceberg.catalog import Catalog, load_catalog
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from commonlake.duckdb_attach import connect
from commonlake.servers import ServerProcess, free_port
from commonlake.settings import Settings

os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")
API_KEY = "bench-key"
EVENT_TYPES = ("COMMIT_CODE", "STARRED", "FORKED", "ISSUE_OPENED", "PULL_REQUEST_OPENED", "ISSUE_COMMENT")
EVENT_WEIGHTS = (0.42, 0.12, 0.04, 0.08, 0.1, 0.24)
METRICS = {  # metric → SQL over events (e) for one bucket
    "commits": "SUM(CASE WHEN event_type = 'COMMIT_CODE' THEN amount END)",
    "stars": "SUM(CASE WHEN event_type = 'STARRED' THEN amount END)",
    "forks": "SUM(CASE WHEN event_type = 'FORKED' THEN amount END)",
    "issues_opened": "SUM(CASE WHEN event_type = 'ISSUE_OPENED' THEN amount END)",
    "pull_requests_opened": "SUM(CASE WHEN event_type = 'PULL_REQUEST_OPENED' THEN amount END)",
    "active_developers": "COUNT(DISTINCT CASE WHEN event_type = 'COMMIT_CODE' THEN developer END)",
}
PERIODS = {"daily": "day", "weekly": "week", "monthly": "month"}
console = Console(width=150)


def entity_id(*parts: str) -> str:
    """The marts' ``@entity_id``."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def metric_id(name: str) -> str:
    """``metric_id`` of an OSO metric name."""
    return entity_id("OSO", "oso", name)


# ---- data ------------------------------------------------------------------------------
def generate_events(count: int, projects: int, seed: int = 7) -> pa.Table:
    """``count`` events over 2025: project (Zipf), repository, developer, type, amount, day."""
    rng = np.random.default_rng(seed)
    project = (rng.zipf(1.3, count) - 1) % projects
    repo = project * 4 + rng.integers(0, 4, count)
    developer = (rng.zipf(1.5, count) - 1) % 200_000
    day = rng.integers(0, 365, count)
    weekday = (day + 2) % 7  # 2025-01-01 was a Wednesday
    keep = (weekday < 5) | (rng.random(count) < 0.6)
    day = np.where(keep, day, (day + 2) % 365)
    kind = rng.choice(len(EVENT_TYPES), size=count, p=EVENT_WEIGHTS)
    amount = np.where(kind == 0, rng.integers(1, 6, count), 1).astype(np.float64)
    return pa.table(
        {
            "project": project.astype(np.int32),
            "repo": repo.astype(np.int32),
            "developer": developer.astype(np.int32),
            "event_type": pa.DictionaryArray.from_arrays(kind.astype(np.int8), list(EVENT_TYPES)).cast(pa.string()),
            "amount": amount,
            "day": pa.array((day + 20089).astype(np.int32)).cast(pa.date32()),  # 20089 = 2025-01-01
        }
    )


def build_marts(catalog: Catalog, events: pa.Table, projects: int, collections: int) -> dict[str, int]:
    """Aggregate the events into OSO-shaped marts and write them as Iceberg tables."""
    con = duckdb.connect()
    con.register("events", events)
    names = [f"project-{i:05d}" for i in range(projects)]
    project_ids = [entity_id("OSS_DIRECTORY", "oso", n) for n in names]
    con.register("project_names", pa.table({"project": np.arange(projects, dtype=np.int32), "project_id": project_ids}))
    catalog.create_namespace_if_not_exists("marts")
    written: dict[str, int] = {}

    def write(name: str, table: pa.Table, files: int = 1) -> None:
        iceberg = catalog.create_table(f"marts.{name}", schema=table.schema)
        step = max(1, -(-table.num_rows // files))
        for start in range(0, max(table.num_rows, 1), step):
            iceberg.append(table.slice(start, step))
        written[name] = table.num_rows

    write(
        "projects_v1",
        pa.table(
            {
                "project_id": project_ids,
                "project_source": ["OSS_DIRECTORY"] * projects,
                "project_namespace": ["oso"] * projects,
                "project_name": names,
                "display_name": [n.replace("-", " ").title() for n in names],
                "description": [f"Generated project {i}" for i in range(projects)],
            }
        ),
    )
    collection_names = [f"collection-{i:03d}" for i in range(collections)]
    write(
        "collections_v1",
        pa.table(
            {
                "collection_id": [entity_id("OSS_DIRECTORY", "oso", c) for c in collection_names],
                "collection_source": ["OSS_DIRECTORY"] * collections,
                "collection_namespace": ["oso"] * collections,
                "collection_name": collection_names,
                "display_name": collection_names,
                "description": [""] * collections,
            }
        ),
    )
    members = [(p, c) for p in range(projects) for c in {p % collections, (p * 7) % collections}]
    write(
        "projects_by_collection_v1",
        pa.table(
            {
                "project_id": [project_ids[p] for p, _ in members],
                "project_source": ["OSS_DIRECTORY"] * len(members),
                "project_namespace": ["oso"] * len(members),
                "project_name": [names[p] for p, _ in members],
                "collection_id": [entity_id("OSS_DIRECTORY", "oso", collection_names[c]) for _, c in members],
                "collection_source": ["OSS_DIRECTORY"] * len(members),
                "collection_namespace": ["oso"] * len(members),
                "collection_name": [collection_names[c] for _, c in members],
            }
        ),
    )
    metric_names = [f"GITHUB_{m}_{p}" for m in METRICS for p in [*PERIODS, "over_all_time"]]
    write(
        "metrics_v0",
        pa.table(
            {
                "metric_id": [metric_id(n) for n in metric_names],
                "metric_source": ["OSO"] * len(metric_names),
                "metric_namespace": ["oso"] * len(metric_names),
                "metric_name": metric_names,
                "display_name": metric_names,
                "description": [""] * len(metric_names),
                "rendered_sql": [""] * len(metric_names),
                "sql_source_path": [""] * len(metric_names),
                "aggregation_function": ["SUM"] * len(metric_names),
            }
        ),
    )
    selects = []
    for metric, expression in METRICS.items():
        for period, unit in PERIODS.items():
            selects.append(
                f"SELECT '{metric_id(f'GITHUB_{metric}_{period}')}' AS metric_id, n.project_id, "
                f"DATE_TRUNC('{unit}', e.day)::DATE AS sample_date, ({expression})::DOUBLE AS amount, "
                f"'{metric}' AS unit FROM events e JOIN project_names n USING (project) GROUP BY ALL"
            )
    series = con.sql(
        f"SELECT * FROM ({' UNION ALL '.join(selects)}) WHERE amount IS NOT NULL "
        "ORDER BY project_id, metric_id, sample_date"
    ).arrow()
    if isinstance(series, pa.RecordBatchReader):
        series = series.read_all()
    write("timeseries_metrics_by_project_v0", series, files=16)
    keys = []
    for metric, expression in METRICS.items():
        keys.append(
            f"SELECT '{metric_id(f'GITHUB_{metric}_over_all_time')}' AS metric_id, n.project_id, "
            f"MAX(e.day) AS sample_date, ({expression})::DOUBLE AS amount, '{metric}' AS unit "
            "FROM events e JOIN project_names n USING (project) GROUP BY ALL"
        )
    key_metrics = con.sql(
        f"SELECT * FROM ({' UNION ALL '.join(keys)}) WHERE amount IS NOT NULL ORDER BY project_id, metric_id"
    ).arrow()
    if isinstance(key_metrics, pa.RecordBatchReader):
        key_metrics = key_metrics.read_all()
    write("key_metrics_by_project_v0", key_metrics)
    return written


# ---- query mix -------------------------------------------------------------------------
def query_mix(project_ids: list[str]) -> dict[str, list[str]]:
    """Each query of the mix, with a few parameter values to rotate through."""
    monthly = metric_id("GITHUB_commits_monthly")
    daily = metric_id("GITHUB_commits_daily")
    stars = metric_id("GITHUB_stars_over_all_time")
    return {
        "project monthly series": [
            "SELECT sample_date, amount FROM marts.timeseries_metrics_by_project_v0 "
            f"WHERE project_id = '{p}' AND metric_id = '{monthly}' ORDER BY sample_date"
            for p in project_ids
        ],
        "top 20 projects by stars": [
            "SELECT p.project_name, k.amount FROM marts.key_metrics_by_project_v0 k "
            f"JOIN marts.projects_v1 p ON p.project_id = k.project_id WHERE k.metric_id = '{stars}' "
            "ORDER BY k.amount DESC NULLS LAST, p.project_name LIMIT 20"
        ],
        "point lookup": [
            "SELECT amount FROM marts.timeseries_metrics_by_project_v0 "
            f"WHERE project_id = '{p}' AND metric_id = '{daily}' AND sample_date = DATE '2025-06-02'"
            for p in project_ids
        ],
        "collection aggregate": [
            "SELECT c.collection_name, SUM(t.amount) AS commits FROM marts.timeseries_metrics_by_project_v0 t "
            "JOIN marts.projects_by_collection_v1 c ON c.project_id = t.project_id "
            f"WHERE t.metric_id = '{monthly}' AND c.collection_name = 'collection-{i:03d}' GROUP BY 1"
            for i in range(5)
        ],
    }


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def time_gateway(client: httpx.Client, queries: list[str], iterations: int, cached: bool) -> list[float]:
    """Latencies (ms) of POST /v1/sql over HTTP."""
    headers = {} if cached else {"Cache-Control": "no-cache"}
    if cached:
        for query in queries:
            client.post("/v1/sql", json={"query": query}).raise_for_status()
    latencies = []
    for i in range(iterations):
        began = time.perf_counter()
        response = client.post("/v1/sql", json={"query": queries[i % len(queries)]}, headers=headers)
        latencies.append((time.perf_counter() - began) * 1000)
        response.raise_for_status()
    return latencies


def time_duckdb(con: duckdb.DuckDBPyConnection, queries: list[str], iterations: int) -> list[float]:
    """Latencies (ms) of the same queries in DuckDB attached to the catalog."""
    latencies = []
    for i in range(iterations):
        query = queries[i % len(queries)].replace("marts.", "lake.marts.")
        began = time.perf_counter()
        con.execute(query).fetchall()
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies


def time_side_by_side(
    client: httpx.Client, con: duckdb.DuckDBPyConnection, queries: list[str], iterations: int
) -> tuple[list[float], list[float]]:
    """Uncached gateway and DuckDB latencies (ms), one request of each in turn (which goes first alternates)."""
    ours: list[float] = []
    theirs: list[float] = []
    for i in range(iterations):
        query = [queries[i % len(queries)]]
        if i % 2:
            theirs += time_duckdb(con, query, 1)
        ours += time_gateway(client, query, 1, cached=False)
        if not i % 2:
            theirs += time_duckdb(con, query, 1)
    return ours, theirs


def throughput(url: str, mix: dict[str, list[str]], seconds: float, clients: int, cached: bool) -> tuple[float, int]:
    """Requests/s of ``clients`` concurrent clients cycling through the mix."""
    queries = [q for variants in mix.values() for q in variants]
    counts = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {API_KEY}", **({} if cached else {"Cache-Control": "no-cache"})}

    def client_loop(index: int) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            i = index
            while time.monotonic() < stop:
                response = client.post("/v1/sql", json={"query": queries[i % len(queries)]})
                i += 1
                if response.status_code == 200:
                    counts[index] += 1
                else:
                    errors[index] += 1

    threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - began), sum(errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--projects", type=int, default=3000)
    parser.add_argument("--collections", type=int, default=60)
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=8.0, help="Duration of each concurrency run.")
    parser.add_argument("--data-dir", help="Keep the generated lake here and re-use it on the next run.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="commonlake-bench-gateway-") as tmp:
        data_dir = Path(args.data_dir) if args.data_dir else Path(tmp)
        settings = Settings(data_dir=data_dir).with_updates(
            catalog={"host": "127.0.0.1", "port": free_port()},
            gateway={
                "host": "127.0.0.1",
                "port": free_port(),
                "api_keys": {"bench": {"key": API_KEY, "requests_per_minute": 1e9, "burst": 1_000_000}},
            },
        )
        logs = settings.resolved_data_dir / "logs"
        with ServerProcess("catalog", settings, "127.0.0.1", settings.catalog.port, logs / "catalog.log"):
            catalog = load_catalog("bench", **settings.rest_catalog_properties())
            marker = data_dir / f"marts-{args.events}-{args.projects}-{args.collections}.done"
            if marker.exists():
                written = {".".join(i[1:]): -1 for i in catalog.list_tables("marts")}
                console.print(f"re-using the marts in {data_dir}")
            else:
                began = time.perf_counter()
                events = generate_events(args.events, args.projects)
                generated = time.perf_counter() - began
                began = time.perf_counter()
                written = build_marts(catalog, events, args.projects, args.collections)
                built = time.perf_counter() - began
                del events
                marker.touch()
                console.print(
                    f"{args.events:,} events generated in {generated:.1f}s; marts written in {built:.1f}s: "
                    + ", ".join(f"{k} {v:,}" for k, v in written.items())
                )
            series = catalog.load_table("marts.timeseries_metrics_by_project_v0")
            files = series.current_snapshot().summary.additional_properties["total-data-files"]
            rows_total = series.current_snapshot().summary.additional_properties["total-records"]
            console.print(f"timeseries_metrics_by_project_v0: {int(rows_total):,} rows in {files} files")
            # Projects spread over the size distribution: big (low numbers), middling, long tail.
            sample = [entity_id("OSS_DIRECTORY", "oso", f"project-{i:05d}") for i in (0, 1, 3, 10, 40, 150, 700, 2500)]
            mix = query_mix(sample)

            with ServerProcess("gateway", settings, "127.0.0.1", settings.gateway.port, logs / "gateway.log") as gw:
                client = httpx.Client(base_url=gw.url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=120)
                duck = connect(settings, alias="lake")
                rows = []
                for name, queries in mix.items():
                    # Same answers from both engines before timing anything.
                    ours = client.post("/v1/sql", json={"query": queries[0]}).json()["rows"]
                    theirs = duck.execute(queries[0].replace("marts.", "lake.marts.")).fetchall()
                    assert [tuple(r) for r in ours] == [tuple(_plain(v) for v in r) for r in theirs], (
                        name,
                        ours[:3],
                        theirs[:3],
                    )
                    first = time_gateway(client, queries[:1], 1, cached=False)[0]
                    uncached, duckdb_ms = time_side_by_side(client, duck, queries, args.iterations)
                    cached = time_gateway(client, queries, args.iterations * 3, cached=True)
                    rows.append((name, first, uncached, cached, duckdb_ms))
                defeated = [
                    q.replace("WHERE project_id", "WHERE CASE WHEN project_id").replace(
                        "AND sample_date = DATE '2025-06-02'", "AND sample_date = DATE '2025-06-02' THEN true END"
                    )
                    for q in mix["point lookup"]
                ]
                no_pruning = time_gateway(client, defeated, args.iterations, cached=False)
                scanned = client.post("/v1/sql", json={"query": mix["point lookup"][0]}).headers[
                    "x-commonlake-files-scanned"
                ]
                report(rows, no_pruning, scanned)
                rps_uncached, errors_uncached = throughput(gw.url, mix, args.seconds, 16, cached=False)
                rps_cached, errors_cached = throughput(gw.url, mix, args.seconds, 16, cached=True)
                console.print(
                    f"16 concurrent clients, query mix: {rps_uncached:,.0f} req/s uncached ({errors_uncached} errors), "
                    f"{rps_cached:,.0f} req/s cached ({errors_cached} errors)"
                )
                client.close()
                duck.close()


def _plain(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def report(rows: list, no_pruning: list[float], scanned: str) -> None:
    """Print the latency table and the targets."""
    table = Table(title="Query gateway vs DuckDB on the same Iceberg tables (ms; gateway over HTTP)")
    for column in (
        "query",
        "first",
        "uncached p50",
        "p99",
        "cached p50",
        "p99",
        "DuckDB p50",
        "p99",
        "uncached/DuckDB",
    ):
        table.add_column(column, justify="left" if column == "query" else "right")
    verdicts = []
    for name, first, uncached, cached, duck in rows:
        ratio = statistics.median(uncached) / statistics.median(duck)
        table.add_row(
            name,
            f"{first:.1f}",
            f"{statistics.median(uncached):.1f}",
            f"{percentile(uncached, 0.99):.1f}",
            f"{statistics.median(cached):.2f}",
            f"{percentile(cached, 0.99):.2f}",
            f"{statistics.median(duck):.1f}",
            f"{percentile(duck, 0.99):.1f}",
            f"{ratio:.2f}x",
        )
        verdicts.append(f"{name}: uncached p50 {ratio:.2f}x DuckDB ({'met' if ratio <= 1.0 else 'MISSED'})")
        verdicts.append(
            f"{name}: cached p50 {statistics.median(cached):.2f} ms < 5 ms "
            f"({'met' if statistics.median(cached) < 5 else 'MISSED'})"
        )
        if name == "point lookup":
            p50 = statistics.median(uncached)
            verdicts.append(f"point lookup uncached p50 {p50:.1f} ms < 50 ms ({'met' if p50 < 50 else 'MISSED'})")
    console.print(table)
    console.print(
        f"point lookup with pruning defeated (same rows): p50 {statistics.median(no_pruning):.1f} ms; "
        f"pruned scan read {scanned}"
    )
    for verdict in verdicts:
        console.print(("[green]" if "(met)" in verdict else "[red]") + verdict)


if __name__ == "__main__":
    main()
