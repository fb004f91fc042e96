"""Benchmark: one incremental day of the SQLMesh models, replayed several times from one saved state.

    python bench/models_day.py setup [--events 10000000] [--days 365]
    python bench/models_day.py run [--repeat 3] [--month-end] [--timeline]
    python bench/models_day.py          # setup once (kept under --dir), then run both days

``bench/models.py`` times one backfill and one run per day, which on a shared VM moves by
a second or more from run to run. This replays the same day from the same saved state:
``setup`` loads the sample of ``bench/models.py`` (all days but the last two), backfills
it, and saves the lake (catalog, warehouse, SQLMesh state) with the backfill's time.
``run`` restores that copy before each repeat, loads the day's raw data (not measured),
times ``run_models`` and prints every repeat, the median and its share of the saved
backfill time. ``--month-end`` replays the last day (a month end) instead of the one
before it (on a state saved after that day's run, made once). ``--timeline`` prints when
each model's evaluation started and ended, and on which worker.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import statistics
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# bench/models.py by path: `import models` would find the SQLMesh project's models/ package.
_spec = importlib.util.spec_from_file_location("bench_models", ROOT / "bench" / "models.py")
assert _spec is not None and _spec.loader is not None
bench_models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_models)

from commonlake.servers import ServerProcess  # noqa: E402  (bench_models put the project on the path)

console = bench_models.console


@contextmanager
def catalog_of(lake_dir: Path):
    """A running catalog server over ``<lake_dir>/lake`` and a PyIceberg catalog on it."""
    from pyiceberg.catalog import load_catalog

    settings = bench_models.bench_settings(lake_dir)
    server = ServerProcess("catalog", settings, "127.0.0.1", settings.catalog.port, lake_dir / "catalog.log").start()
    try:
        yield settings, load_catalog("bench", **settings.rest_catalog_properties())
    finally:
        server.stop()


def restore(directory: Path, saved: str) -> None:
    """Replace the working lake with the saved copy ``saved``."""
    shutil.rmtree(directory / "lake", ignore_errors=True)
    shutil.copytree(directory / saved, directory / "lake")


def setup(directory: Path, sample_dir: Path, events: int, days: int) -> None:
    """Load all days but the last two, backfill them, and save the lake with the backfill's time."""
    from sqlmesh_project.runner import run_models

    # Only what this script writes there: --dir may be a directory that holds other things.
    for saved in ("lake", "after-backfill", "after-first-day"):
        shutil.rmtree(directory / saved, ignore_errors=True)
    (directory / "setup.json").unlink(missing_ok=True)
    directory.mkdir(parents=True, exist_ok=True)
    with catalog_of(directory) as (settings, catalog):
        manifest, first_unloaded = bench_models.prepare(sample_dir, events, days, catalog)
        began = time.monotonic()
        run_models(settings, catalog, execution_time=first_unloaded.date().isoformat())
        backfill = time.monotonic() - began
    shutil.copytree(directory / "lake", directory / "after-backfill")
    record = {
        "backfill_seconds": backfill,
        "first_day": first_unloaded.isoformat(),
        "gharchive": str(manifest.gharchive_dir),
    }
    (directory / "setup.json").write_text(json.dumps(record))
    console.print(f"backfill: {backfill:.1f}s; saved under {directory}")


def load_and_run(directory: Path, day: datetime, gharchive: Path, timeline: list | None = None) -> float:
    """Load ``day``'s raw data (not measured), then time ``run_models`` for it."""
    from ingestion.pipelines import load_gharchive
    from sqlmesh_project.runner import run_models

    with catalog_of(directory) as (settings, catalog):
        load_gharchive(catalog, day, day + timedelta(hours=23), gharchive)
        with _evaluations_recorded(timeline):
            began = time.monotonic()
            run_models(settings, catalog, execution_time=(day.date() + timedelta(days=1)).isoformat())
            seconds = time.monotonic() - began
    if timeline is not None:
        for name, start, end, worker in sorted(timeline, key=lambda row: row[1]):
            console.print(f"  {start - began:6.2f} {end - began:6.2f} {end - start:5.2f}  {worker:>3}  {name}")
    return seconds


@contextmanager
def _evaluations_recorded(timeline: list | None):
    """Record (model, start, end, worker) of every model evaluation into ``timeline``."""
    if timeline is None:
        yield
        return
    from sqlmesh.core.snapshot.evaluator import SnapshotEvaluator

    evaluate = SnapshotEvaluator.evaluate

    def timed(self, snapshot, *args, **kwargs):
        start = time.monotonic()
        try:
            return evaluate(self, snapshot, *args, **kwargs)
        finally:
            timeline.append((snapshot.name, start, time.monotonic(), threading.current_thread().name[-3:]))

    SnapshotEvaluator.evaluate = timed
    try:
        yield
    finally:
        SnapshotEvaluator.evaluate = evaluate


def run(directory: Path, repeat: int, month_end: bool, timeline: bool) -> None:
    """Replay the day ``repeat`` times from the saved state; print each time, the median and its share."""
    try:
        record = json.loads((directory / "setup.json").read_text())
    except FileNotFoundError:
        raise SystemExit(f"no saved state under {directory}: run `python bench/models_day.py setup` first") from None
    first_day, gharchive = datetime.fromisoformat(record["first_day"]), Path(record["gharchive"])
    day, saved = first_day, "after-backfill"
    if month_end:
        day, saved = first_day + timedelta(days=1), "after-first-day"
        if not (directory / saved).exists():
            restore(directory, "after-backfill")
            load_and_run(directory, first_day, gharchive)
            shutil.copytree(directory / "lake", directory / saved)
    seconds = []
    for index in range(repeat):
        restore(directory, saved)
        seconds.append(load_and_run(directory, day, gharchive, [] if timeline else None))
        console.print(f"run {index + 1}: {seconds[-1]:.2f}s")
    median = statistics.median(seconds)
    backfill = record["backfill_seconds"]
    console.print(
        f"{day:%a %Y-%m-%d}: median {median:.2f}s of {repeat} (min {min(seconds):.2f}, max {max(seconds):.2f}); "
        f"{median / backfill:.1%} of the saved backfill ({backfill:.1f}s; target < 10%)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", choices=("setup", "run", "all"), default="all")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--month-end", action="store_true", help="replay the last day (a month end)")
    parser.add_argument("--timeline", action="store_true", help="print each model's evaluation")
    parser.add_argument("--sample-dir", type=Path, default=ROOT / ".commonlake" / "bench" / "models")
    parser.add_argument("--dir", type=Path, default=ROOT / ".commonlake" / "bench" / "models-day")
    args = parser.parse_args()
    if args.command == "setup" or (args.command == "all" and not (args.dir / "setup.json").exists()):
        setup(args.dir, args.sample_dir, args.events, args.days)
    if args.command == "run":
        run(args.dir, args.repeat, args.month_end, args.timeline)
    elif args.command == "all":  # what `make bench` runs: both days
        for month_end in (False, True):
            run(args.dir, args.repeat, month_end, args.timeline)


if __name__ == "__main__":
    main()
