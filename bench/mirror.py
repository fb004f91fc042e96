"""Benchmark: mirroring a node with 10 million events' worth of raw and marts tables.

    python bench/mirror.py [--days 8] [--events-per-hour 52000] [--dir DIR]

In one run, on one machine, with two catalog servers (SQLite, file:// warehouses):

1. the source node ingests ``days`` days of generated GH Archive hours (about 10 million
   events with the defaults) into ``raw.github_events`` and computes two marts from them
   with DuckDB;
2. a plain recursive copy (``cp -r``) of the source tables' directories: the floor;
3. the first full copy-mode mirror of ``raw`` and ``marts`` (MB/s against the floor);
4. one new day at the source (ingest + marts overwritten), then an incremental refresh
   (seconds, and bytes copied against the full copy);
5. a register-mode mirror of the same tables: refresh latency after each of several source
   commits, and a refresh with nothing new (ms).

Targets: the full copy at ≥ 50 % of the plain copy's MB/s (it also rewrites every manifest
and verifies every file); the incremental refresh copies no more than the new day's files
plus metadata; a register-mode refresh under 100 ms per changed table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [str(ROOT), *[p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]]

import pyarrow as pa  # noqa: E402
from pyiceberg.catalog import Catalog, load_catalog  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from commonlake import duckdb_attach  # noqa: E402
from commonlake.servers import ServerProcess, free_port  # noqa: E402
from commonlake.settings import Settings  # noqa: E402
from ingestion.pipelines import load_gharchive  # noqa: E402
from mirror import add_mirror, refresh_mirror  # noqa: E402

START = datetime(2025, 9, 1, tzinfo=UTC)  # a Monday
MARTS = {
    "events_daily": """
        SELECT CAST(created_at AS DATE) AS day, repo.name AS repo_name, type, COUNT(*) AS events
        FROM ice.raw.github_events GROUP BY ALL""",
    "actors_daily": """
        SELECT CAST(created_at AS DATE) AS day, actor.login AS actor_login, COUNT(*) AS events,
               COUNT(DISTINCT repo.name) AS repos
        FROM ice.raw.github_events GROUP BY ALL""",
}
console = Console()


def ensure_hours(directory: Path, days: int, events_per_hour: int) -> None:
    """The hour files of ``days`` + 1 days (the last one is the "new day"), generated once."""
    from ingestion.synthetic import write_bulk_hours

    marker = directory / "SPEC.json"
    spec = {"days": days + 1, "events_per_hour": events_per_hour, "start": START.isoformat(), "seed": 7}
    if marker.exists() and json.loads(marker.read_text()) == spec:
        return
    shutil.rmtree(directory, ignore_errors=True)
    with console.status(f"Generating {days + 1} days of hour files…"):
        write_bulk_hours(directory, START, (days + 1) * 24, events_per_hour, seed=7)
    marker.write_text(json.dumps(spec))


def node(root: Path, name: str) -> tuple[Settings, ServerProcess]:
    settings = Settings(data_dir=root / name).with_updates(
        catalog={"host": "127.0.0.1", "port": free_port()}, gateway={"port": free_port()}
    )
    server = ServerProcess("catalog", settings, "127.0.0.1", settings.catalog.port, root / f"{name}.log").start()
    # A fresh server imports its file readers on the first table it reads (~0.5 s): not a cost of mirroring.
    warm = load_catalog(name, **settings.rest_catalog_properties())
    warm.create_namespace("warmup")
    warm.create_table(("warmup", "t"), schema=pa.schema([("id", pa.int64())])).append(pa.table({"id": [1]}))
    warm.purge_table(("warmup", "t"))
    warm.drop_namespace("warmup")
    return settings, server


def publish_marts(settings: Settings, catalog: Catalog) -> None:
    """The marts, recomputed from raw with DuckDB and overwritten in one commit each."""
    connection = duckdb_attach.connect(settings, "ice")
    catalog.create_namespace_if_not_exists("marts")
    warnings.filterwarnings("ignore", "Delete operation did not match any records")
    for name, sql in MARTS.items():
        data = connection.execute(sql).to_arrow_table()
        if not catalog.table_exists(("marts", name)):
            catalog.create_table(("marts", name), schema=data.schema)
        catalog.load_table(("marts", name)).overwrite(data)


def ingest_days(catalog: Catalog, hours_dir: Path, first: int, last: int) -> int:
    start = START + timedelta(days=first)
    end = START + timedelta(days=last + 1) - timedelta(hours=1)
    return load_gharchive(catalog, start, end, hours_dir).rows


def tree_bytes(paths: list[Path]) -> int:
    return sum(f.stat().st_size for p in paths for f in p.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--events-per-hour", type=int, default=52_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "commonlake-bench-mirror-hours")
    parser.add_argument("--register-commits", type=int, default=5)
    args = parser.parse_args()

    ensure_hours(args.dir, args.days, args.events_per_hour)
    root = Path(tempfile.mkdtemp(prefix="commonlake-bench-mirror-"))
    servers: list[ServerProcess] = []
    figures: dict[str, float] = {}
    try:
        source, server = node(root, "source")
        servers.append(server)
        source_catalog = load_catalog("source", **source.rest_catalog_properties())
        began = time.perf_counter()
        with console.status(f"Ingesting {args.days} days at the source…"):
            events = ingest_days(source_catalog, args.dir, 0, args.days - 1)
            publish_marts(source, source_catalog)
        console.print(f"source: {events:,} events ingested, marts computed ({time.perf_counter() - began:.0f}s)")
        table_dirs = [
            Path(source_catalog.load_table(identifier).location().removeprefix("file://"))
            for namespace in ("raw", "marts")
            for identifier in source_catalog.list_tables(namespace)
        ]

        # 2. The floor: a plain recursive copy of the same tables' directories.
        plain = root / "plain-copy"
        plain.mkdir()
        began = time.perf_counter()
        subprocess.run(["cp", "-r", *map(str, table_dirs), str(plain)], check=True)
        figures["plain_seconds"] = time.perf_counter() - began
        figures["plain_bytes"] = tree_bytes([plain])
        shutil.rmtree(plain)

        # 3. The first full copy-mode mirror.
        replica, server = node(root, "replica")
        servers.append(server)
        add_mirror(replica, "upstream", server_uri(servers[0]), "raw,marts", "copy")
        began = time.perf_counter()
        full = refresh_mirror(replica, "upstream")
        figures["full_seconds"] = time.perf_counter() - began
        assert full.ok, [o.message for o in full.outcomes if not o.ok]
        figures["full_bytes"] = full.stats.bytes_copied + full.stats.metadata_bytes_written
        figures["full_files"] = full.stats.files_copied

        # 4. One new day at the source, then an incremental refresh.
        with console.status("One new day at the source…"):
            figures["new_day_events"] = ingest_days(source_catalog, args.dir, args.days, args.days)
            publish_marts(source, source_catalog)
        began = time.perf_counter()
        incremental = refresh_mirror(replica, "upstream")
        figures["incremental_seconds"] = time.perf_counter() - began
        assert incremental.ok
        figures["incremental_bytes"] = incremental.stats.bytes_copied + incremental.stats.metadata_bytes_written
        figures["incremental_files"] = incremental.stats.files_copied
        check = (
            duckdb_attach.connect(replica, "ice")
            .execute('SELECT COUNT(*) FROM ice."upstream.raw".github_events')
            .fetchone()[0]
        )
        assert check == events + figures["new_day_events"], (check, events, figures["new_day_events"])

        # 5. Register mode: latency of a refresh after each source commit, and of one with nothing new.
        registered, server = node(root, "registered")
        servers.append(server)
        add_mirror(registered, "upstream", server_uri(servers[0]), "raw,marts", "register")
        began = time.perf_counter()
        assert refresh_mirror(registered, "upstream").ok
        figures["register_first_ms"] = (time.perf_counter() - began) * 1000
        mart = source_catalog.load_table(("marts", "events_daily"))
        latencies = []
        for _ in range(args.register_commits):
            mart.append(mart.scan(limit=10).to_arrow())
            began = time.perf_counter()
            report = refresh_mirror(registered, "upstream")
            latencies.append((time.perf_counter() - began) * 1000)
            assert report.ok and sum(o.action == "updated" for o in report.outcomes) == 1
        figures["register_refresh_ms"] = statistics.median(latencies)
        began = time.perf_counter()
        refresh_mirror(registered, "upstream")
        figures["register_noop_ms"] = (time.perf_counter() - began) * 1000
        figures["tables"] = len(full.outcomes)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(root, ignore_errors=True)
    print_report(figures, events, args)


def server_uri(server: ServerProcess) -> str:
    return server.url


def print_report(f: dict[str, float], events: int, args: argparse.Namespace) -> None:
    mb = 1024 * 1024
    plain_rate = f["plain_bytes"] / mb / f["plain_seconds"]
    full_rate = f["full_bytes"] / mb / f["full_seconds"]
    table = Table(title=f"Mirror benchmark: {events:,} events over {args.days} days, {int(f['tables'])} tables")
    for column in ("measure", "value", "compared with", "target"):
        table.add_column(column)
    ratio = full_rate / plain_rate
    table.add_row(
        "plain recursive copy (cp -r)",
        f"{f['plain_bytes'] / mb:,.0f} MB in {f['plain_seconds']:.2f}s = {plain_rate:,.0f} MB/s",
        "the floor",
        "",
    )
    table.add_row(
        "first full copy (copy mode)",
        f"{f['full_bytes'] / mb:,.0f} MB, {int(f['full_files'])} files in {f['full_seconds']:.2f}s"
        f" = {full_rate:,.0f} MB/s",
        f"{ratio:.0%} of cp -r",
        f"≥ 50 %: {'met' if ratio >= 0.5 else 'MISSED'}",
    )
    share = f["incremental_bytes"] / f["full_bytes"]
    expected = f["new_day_events"] / events  # the new day's size against what the full copy held
    table.add_row(
        f"incremental refresh after one new day ({int(f['new_day_events']):,} events)",
        f"{f['incremental_seconds']:.2f}s, {f['incremental_bytes'] / mb:,.1f} MB, {int(f['incremental_files'])} files",
        f"{share:.1%} of the full copy's bytes ({f['full_seconds'] / f['incremental_seconds']:.1f}x faster)",
        f"≈ the new day's share ({expected:.1%}) + marts: {'met' if share <= expected * 1.5 + 0.02 else 'MISSED'}",
    )
    table.add_row(
        "register mode: refresh after a source commit",
        f"{f['register_refresh_ms']:.0f} ms (median of {args.register_commits})",
        f"first registration {f['register_first_ms']:.0f} ms; nothing new {f['register_noop_ms']:.0f} ms",
        f"< 100 ms: {'met' if f['register_refresh_ms'] < 100 else 'MISSED'}",
    )
    console.print(table)


if __name__ == "__main__":
    main()
