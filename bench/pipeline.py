"""Benchmark: the whole pipeline (ingest → models → publish) on 24 hours of generated GH Archive data,
embedded (file:// warehouse) and S3 (SeaweedFS) in one run, with the wall time of each stage and the
S3/embedded ratio.

    python bench/pipeline.py [--events-per-hour 90] [--projects 24]

Each mode gets a fresh data directory, a catalog server (SQLite) and, for S3, a SeaweedFS
server on loopback; the same deterministic sample is loaded in both.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path

os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")
# `python bench/pipeline.py` puts bench/ first on sys.path, where bench/models.py would
# shadow the SQLMesh project's own `models` package when SQLMesh loads its Python models.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != Path(__file__).resolve().parent]
from pyiceberg.catalog import load_catalog  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from commonlake.seaweedfs import SeaweedFS  # noqa: E402
from commonlake.servers import ServerProcess, free_port  # noqa: E402
from commonlake.settings import Settings  # noqa: E402
from ingestion.pipelines import load_gharchive, load_ossd  # noqa: E402
from ingestion.synthetic import SampleManifest, SampleSpec, generate_sample  # noqa: E402
from sqlmesh_project.runner import ModelsRunSummary, make_context, publish_marts, run_models  # noqa: E402

STAGES = ("ingest", "models", "publish")


def run_mode(mode: str, root: Path, manifest: SampleManifest, spec: SampleSpec) -> tuple[dict[str, float], dict]:
    """Run the pipeline once in ``mode`` ("embedded" or "s3"); seconds per stage and counts."""
    settings = Settings(data_dir=root / mode).with_updates(
        catalog={"host": "127.0.0.1", "port": free_port()},
        gateway={"host": "127.0.0.1", "port": free_port()},
        models={"start": spec.start.isoformat()},
    )
    seconds: dict[str, float] = {}
    with ExitStack() as stack:
        if mode == "s3":
            store = stack.enter_context(SeaweedFS(root / f"{mode}-seaweedfs"))
            settings = settings.with_updates(**store.settings_changes("bench"))
        log = settings.resolved_data_dir / "catalog.log"
        stack.enter_context(ServerProcess("catalog", settings, "127.0.0.1", settings.catalog.port, log))
        catalog = load_catalog("bench", **settings.rest_catalog_properties())

        began = time.perf_counter()
        load_ossd(catalog, manifest.ossd_dir)
        events = load_gharchive(catalog, manifest.start, manifest.end, manifest.gharchive_dir)
        seconds["ingest"] = time.perf_counter() - began

        began = time.perf_counter()
        run_models(settings, catalog, publish=False)
        seconds["models"] = time.perf_counter() - began

        context = make_context(settings)  # loading the project is not publishing: not timed
        try:
            summary = ModelsRunSummary()
            began = time.perf_counter()
            publish_marts(context, catalog, settings, summary)
            seconds["publish"] = time.perf_counter() - began
        finally:
            context.close()
    counts = {"raw rows": events.rows, "marts": len(summary.published), "mart rows": sum(summary.published.values())}
    return seconds, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events-per-hour", type=float, default=90.0)
    parser.add_argument("--projects", type=int, default=24)
    args = parser.parse_args()
    console = Console()
    spec = SampleSpec(
        seed=7, projects=args.projects, days=1, events_per_hour=args.events_per_hour, start=date(2025, 9, 1)
    )
    with tempfile.TemporaryDirectory(prefix="commonlake-bench-") as tmp:
        root = Path(tmp)
        manifest = generate_sample(root / "sample", spec)
        console.print(
            f"24 hours of generated GH Archive: {manifest.events:,} events in {len(manifest.files)} files, "
            f"{spec.projects} projects"
        )
        results = {}
        for mode in ("embedded", "s3"):
            with console.status(f"Running the pipeline ({mode})…"):
                results[mode] = run_mode(mode, root, manifest, spec)
            console.print(f"[green]✓[/] {mode}: {results[mode][1]}")

    table = Table(title="Pipeline wall time (seconds)")
    for column in ("stage", "embedded (file://)", "S3 (SeaweedFS)", "S3 / embedded"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    for stage in (*STAGES, "total"):
        embedded = sum(results["embedded"][0].values()) if stage == "total" else results["embedded"][0][stage]
        s3 = sum(results["s3"][0].values()) if stage == "total" else results["s3"][0][stage]
        table.add_row(stage, f"{embedded:.2f}", f"{s3:.2f}", f"{s3 / embedded:.2f}x")
    console.print(table)
    if results["embedded"][1] != results["s3"][1]:
        console.print(f"[red]the two modes disagree:[/] {results['embedded'][1]} vs {results['s3'][1]}")
        sys.exit(1)


if __name__ == "__main__":
    main()
