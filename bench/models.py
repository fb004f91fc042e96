"""Benchmark: the SQLMesh models on DuckDB + the Iceberg catalog vs the same SQL in plain DuckDB.

    python bench/models.py [--events 10000000] [--days 30] [--dir .commonlake/bench/models]

Generates a sample of about ``--events`` GitHub events (cached under ``--dir``, with the
raw tables loaded once: neither is measured), then in one run times:

1. plain DuckDB: every model's rendered SQL, in dependency order, as tables in a DuckDB
   file, over the raw tables' Parquet data files (the work without the catalog, SQLMesh or
   Iceberg), over all days but the last two;
2. the full backfill of those days: ``run_models`` from an empty SQLMesh state (plan, run,
   publish);
3. one-day incremental runs: a day's raw data arrives, then ``run_models``. First an
   ordinary day (the sample's second-to-last, a Monday: only daily periods end), then the
   last day (30 September: a month and a quarter end, so the monthly and quarterly models
   compute those whole periods, as they do on every such day).

Targets: backfill within 1.5x plain DuckDB; the incremental day under 10 % of the backfill.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# This file is bench/models.py: with bench/ on the path, `import models` would find it
# instead of the SQLMesh project's models/ package.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")

from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from commonlake.servers import ServerProcess, free_port  # noqa: E402
from commonlake.settings import Settings  # noqa: E402

console = Console()
START = date(2025, 9, 1)


def bench_settings(directory: Path) -> Settings:
    return Settings(data_dir=directory / "lake").with_updates(
        catalog={"host": "127.0.0.1", "port": free_port()}, models={"start": START.isoformat()}
    )


def prepare(directory: Path, events: int, days: int, catalog) -> tuple[object, datetime]:
    """Generate (cached) and load all days but the last two; returns the manifest and the first unloaded day."""
    from ingestion.pipelines import load_gharchive, load_ossd
    from ingestion.synthetic import SampleSpec, generate_sample

    spec = SampleSpec(seed=2025, projects=60, collections=5, days=days, events_per_hour=events / (days * 24))
    sample = directory / f"sample-{events}-{days}"
    began = time.monotonic()
    manifest = generate_sample(sample, spec) if not (sample / "done").exists() else None
    if manifest is None:
        from ingestion.synthetic import SampleGenerator

        hours = SampleGenerator(spec).hours()
        from ingestion.synthetic import SampleManifest

        manifest = SampleManifest(
            sample,
            sample / "oss-directory",
            sample / "gharchive",
            hours[0],
            hours[-1],
            files=sorted((sample / "gharchive").glob("*.json.gz")),
        )
    else:
        (sample / "done").write_text(str(manifest.events))
    console.print(f"sample: {sample} ({time.monotonic() - began:.0f}s, not measured)")
    first_unloaded = manifest.end.replace(hour=0) - timedelta(days=1)
    began = time.monotonic()
    load_ossd(catalog, manifest.ossd_dir)
    load_gharchive(catalog, manifest.start, first_unloaded - timedelta(hours=1), manifest.gharchive_dir)
    console.print(f"raw tables loaded before {first_unloaded:%Y-%m-%d} ({time.monotonic() - began:.0f}s, not measured)")
    return manifest, first_unloaded


def plain_duckdb(settings: Settings, catalog, execution_day: date) -> tuple[float, dict[str, int]]:
    """Every model's SQL in plain DuckDB over the raw Parquet files; (seconds, rows per mart)."""
    import duckdb

    from sqlmesh_project.runner import make_context

    context = make_context(settings)
    alias = settings.models.catalog_alias
    try:
        # Tables in a DuckDB file, as the Iceberg side writes its tables to disk: at 10M events
        # the models' tables do not all fit in memory beside everything else.
        database = settings.data_dir / "plain.duckdb"
        database.unlink(missing_ok=True)
        con = duckdb.connect(config={"memory_limit": "14GB"})
        con.execute(f"ATTACH '{database}' AS {alias}")
        con.execute("SET TimeZone = 'UTC'")
        for _, name in catalog.list_tables("raw"):
            files = [task.file.file_path for task in catalog.load_table(("raw", name)).scan().plan_files()]
            if not files:  # e.g. raw.rejects, which no model reads
                continue
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {alias}.raw")
            listing = ", ".join(f"'{f.removeprefix('file://')}'" for f in files)
            con.execute(f"CREATE VIEW {alias}.raw.{name} AS SELECT * FROM read_parquet([{listing}])")
        order = [s for s in context.dag if not context.get_model(s).kind.is_external]
        end = (execution_day - timedelta(days=1)).isoformat()
        rendered = [
            (name, context.render(name, start=START.isoformat(), end=end, execution_time=execution_day.isoformat()))
            for name in order
        ]
        seeds = {name for name in order if context.get_model(name).kind.is_seed}
        rows = {}
        began = time.monotonic()
        for name, query in rendered:
            parts = name.replace('"', "").split(".")
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {alias}.{parts[1]}")
            if name in seeds:
                model = context.get_model(name)
                df = next(model.render_seed())  # noqa: F841 (read by DuckDB's replacement scan)
                con.execute(f"CREATE TABLE {name} AS SELECT * FROM df")
            else:
                try:
                    model = context.get_model(name)
                    if model.depends_on_self:  # reads its own (so far empty) table
                        columns = ", ".join(
                            f'"{column}" {kind.sql(dialect="duckdb")}'
                            for column, kind in model.columns_to_types.items()
                        )
                        con.execute(f"CREATE TABLE {name} ({columns})")
                        con.execute(f"INSERT INTO {name} {query.sql(dialect='duckdb')}")
                    else:
                        con.execute(f"CREATE TABLE {name} AS {query.sql(dialect='duckdb')}")
                except duckdb.OutOfMemoryException as exc:
                    raise SystemExit(f"plain DuckDB ran out of memory on {name}: {exc}") from None
            if parts[1] == "marts":
                rows[parts[2]] = con.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0]
        return time.monotonic() - began, rows
    finally:
        context.close()


def model_files(catalog) -> str:
    """Live data files and delete files of the models' physical tables (how they grow run after run)."""
    data = deletes = tables = 0
    for namespace in catalog.list_namespaces():
        if not namespace[0].startswith("sqlmesh__"):
            continue
        for identifier in catalog.list_tables(namespace):
            tasks = list(catalog.load_table(identifier).scan().plan_files())
            tables += 1
            data += len(tasks)
            deletes += len({delete.file_path for task in tasks for delete in task.delete_files})
    return f"models' tables: {tables}, data files {data}, delete files {deletes}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--dir", type=Path, default=ROOT / ".commonlake" / "bench" / "models")
    args = parser.parse_args()
    from pyiceberg.catalog import load_catalog

    from ingestion.pipelines import load_gharchive
    from sqlmesh_project.runner import run_models

    args.dir.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(args.dir / "lake", ignore_errors=True)  # raw tables are reloaded from the cached files
    settings = bench_settings(args.dir)
    server = ServerProcess("catalog", settings, "127.0.0.1", settings.catalog.port, args.dir / "catalog.log").start()
    try:
        catalog = load_catalog("bench", **settings.rest_catalog_properties())
        manifest, last_day = prepare(args.dir, args.events, args.days, catalog)
        raw_rows = catalog.load_table("raw.github_events").scan().count()
        execution_day = last_day.date()

        plain_seconds, plain_rows = plain_duckdb(settings, catalog, execution_day)
        console.print(f"plain DuckDB: {plain_seconds:.1f}s")

        began = time.monotonic()
        backfill = run_models(settings, catalog, execution_time=execution_day.isoformat())
        backfill_seconds = time.monotonic() - began
        console.print(f"backfill: {backfill_seconds:.1f}s; {model_files(catalog)}")
        mismatched = {
            m: (backfill.published.get(f"marts.{m}"), n)
            for m, n in plain_rows.items()
            if backfill.published.get(f"marts.{m}") != n
        }

        days = []  # (label, raw rows added, seconds)
        for offset in (0, 1):
            day = last_day + timedelta(days=offset)
            label = _kind_of_day(day.date())
            before = catalog.load_table("raw.github_events").scan().count()
            load_gharchive(catalog, day, day + timedelta(hours=23), manifest.gharchive_dir)
            added = catalog.load_table("raw.github_events").scan().count() - before
            began = time.monotonic()
            run_models(settings, catalog, execution_time=(day.date() + timedelta(days=1)).isoformat())
            days.append((f"{label} {day:%a %Y-%m-%d}", added, time.monotonic() - began))
            console.print(f"incremental {days[-1][0]}: {days[-1][2]:.1f}s; {model_files(catalog)}")
    finally:
        server.stop()

    table = Table(title=f"SQLMesh models: {raw_rows:,} raw events, then days of {days[0][1]:,} and {days[1][1]:,}")
    for column in ("measure", "seconds", "ratio", "target", "met"):
        table.add_column(column)
    ratio = backfill_seconds / plain_seconds
    table.add_row("plain DuckDB, same SQL over Parquet", f"{plain_seconds:.1f}", "1.00", "", "")
    table.add_row(
        "full backfill (plan + run + publish)",
        f"{backfill_seconds:.1f}",
        f"{ratio:.2f}x plain",
        "≤ 1.5x",
        _yes(ratio <= 1.5),
    )
    for label, _, seconds in days:
        share = seconds / backfill_seconds
        table.add_row(
            f"one-day incremental run: {label}",
            f"{seconds:.1f}",
            f"{share:.1%} of backfill",
            "< 10%",
            _yes(share < 0.10),
        )
    console.print(table)
    console.print(f"marts: {len(plain_rows)}; row counts equal to plain DuckDB's: {not mismatched} {mismatched or ''}")
    console.print(
        f"sample generated on {datetime.now(UTC):%Y-%m-%d}; events in the sample: {manifest.events or 'cached'}"
    )


def _kind_of_day(day: date) -> str:
    """Which periods end on ``day`` (what its incremental run computes beyond the daily models)."""
    from sqlmesh_project.metrics_factory import LONGER_PERIODS, period_ends_within

    ended = [p.unit for p in LONGER_PERIODS if period_ends_within(p.unit, day, day)]
    if not ended:
        return "ordinary day"
    return (f"{', '.join(ended[:-1])} and {ended[-1]}" if len(ended) > 1 else ended[0]) + " end"


def _yes(ok: bool) -> str:
    return "[green]yes[/]" if ok else "[red]no[/]"


if __name__ == "__main__":
    main()
