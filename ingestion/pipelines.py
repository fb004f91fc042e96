"""The public entry points of ingestion: what the CLI, the demo and the Dagster assets call."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import AlwaysTrue, EqualTo, In

from ingestion.loader import (
    DEFAULT_FLUSH_BYTES,
    BeforeCommitHook,
    IcebergLoader,
    LoadSummary,
    RawTableSpec,
    UnitLoad,
    current_units,
    day_partitioned,
)
from ingestion.rejects import Reject
from ingestion.schemas import GITHUB_EVENTS, OSSD_ARTIFACTS, OSSD_COLLECTIONS, OSSD_PROJECTS, RAW_NAMESPACE, UNIT_COLUMN
from ingestion.sources.bigquery import BigQueryMirror, BigQuerySource, CursorValue, arrow_for_iceberg
from ingestion.sources.gharchive import (
    DEFAULT_BASE_URL,
    CorruptUnit,
    GhArchiveSource,
    MissingUnit,
    hour_range,
    hour_unit,
)
from ingestion.sources.gharchive_events import RepoFilter, UnitCounts
from ingestion.sources.gharchive_unit import BlockParsers, HourFinisher
from ingestion.sources.ossd import OssDirectorySource

GITHUB_EVENTS_TABLE = RawTableSpec("github_events", GITHUB_EVENTS, day_partitioned("created_at"))
OSSD_PROJECTS_TABLE = RawTableSpec("ossd_projects", OSSD_PROJECTS)
OSSD_COLLECTIONS_TABLE = RawTableSpec("ossd_collections", OSSD_COLLECTIONS)
OSSD_ARTIFACTS_TABLE = RawTableSpec("ossd_artifacts", OSSD_ARTIFACTS)
OSSD_TABLES = (OSSD_PROJECTS_TABLE, OSSD_COLLECTIONS_TABLE, OSSD_ARTIFACTS_TABLE)
CURSOR_PROPERTY = "commonlake.bigquery.cursor"

# (units done, units total, current unit)
ProgressCallback = Callable[[int, int, str], None]


def _no_progress(done: int, total: int, unit: str) -> None:
    return None


def load_gharchive(
    catalog: Catalog,
    start: datetime,
    end: datetime,
    source: str | Path = DEFAULT_BASE_URL,
    force: bool = False,
    progress: ProgressCallback = _no_progress,
    batch_rows: int = 250_000,
    repo_filter: RepoFilter | None = None,
    flush_bytes: int = DEFAULT_FLUSH_BYTES,
    before_commit: BeforeCommitHook | None = None,
    namespace: str = RAW_NAMESPACE,
) -> LoadSummary:
    """Load every hour file from ``start`` to ``end`` (inclusive) into ``raw.github_events``.

    Hours already loaded are skipped unless ``force`` (which replaces them). Hours are
    committed in batches of about ``batch_rows`` rows, each batch atomically, so an
    interrupted run resumes at the first hour it did not commit and never leaves part of
    an hour behind. An event id seen in the same file or in the neighbouring hour is kept
    once. Missing hour files are listed in the summary; a corrupt file is rejected whole
    (one reject row) and not recorded as loaded, so a later run tries it again.
    """
    began = time.monotonic()
    src = GhArchiveSource(source)
    hours = hour_range(start, end)
    src.check_reachable()
    loader = IcebergLoader(catalog, namespace, flush_bytes=flush_bytes, before_commit=before_commit)
    summary = LoadSummary("gharchive")
    ever_loaded = loader.loaded_units(GITHUB_EVENTS_TABLE)
    todo: list[datetime] = []
    for index, hour in enumerate(hours, start=1):
        if hour_unit(hour) in ever_loaded and not force:
            summary.units_skipped += 1
            progress(index, len(hours), hour_unit(hour))
        else:
            todo.append(hour)
    run = _GhArchiveRun(loader, src, ever_loaded, repo_filter)
    try:
        _load_hours(loader, run, todo, len(hours), summary, ever_loaded, batch_rows, progress)
    finally:
        run.parsers.close()
    summary.seconds = time.monotonic() - began
    return summary


def _load_hours(
    loader: IcebergLoader,
    run: _GhArchiveRun,
    todo: list[datetime],
    total: int,
    summary: LoadSummary,
    ever_loaded: set[str],
    batch_rows: int,
    progress: ProgressCallback,
) -> None:
    """Load the hours to do, in commits of about ``batch_rows`` rows (see :func:`load_gharchive`)."""
    done = summary.units_skipped
    position = 0
    while position < len(todo):
        batch_start = position
        load = loader.begin(GITHUB_EVENTS_TABLE, "gharchive")
        rejects: dict[str, list[Reject]] = {}
        counts = UnitCounts()
        try:
            while position < len(todo) and load.rows < batch_rows:
                hour = todo[position]
                unit = hour_unit(hour)
                try:
                    unit_counts = run.load_hour(hour, load)
                except MissingUnit:
                    summary.missing_units.append(unit)
                    del todo[position]
                    continue
                rejects[unit] = unit_counts.rejects
                counts.duplicates += unit_counts.duplicates
                counts.filtered += unit_counts.filtered
                position += 1
                done += 1
                progress(done, total, unit)
        except CorruptUnit as exc:
            # The batch holds part of the corrupt hour: drop the whole batch, redo it without that hour.
            load.abort()
            unit = hour_unit(todo[position])
            summary.failed_units[unit] = str(exc)
            loader.write_rejects("gharchive", {unit: [Reject("file", str(exc), None)]})
            summary.rejects += 1
            del todo[position]
            done -= position - batch_start
            position = batch_start
            run.forget()
            continue
        if not load.units:
            load.abort()
            continue
        replaced = set(load.units) & ever_loaded
        load.replace = In(UNIT_COLUMN, replaced) if replaced else None
        summary.rejects += loader.write_rejects("gharchive", rejects)  # before the data: see write_rejects
        summary.add_rows("raw.github_events", load.commit())
        summary.new_columns.extend(c for c in load.new_columns if c not in summary.new_columns)
        summary.units_loaded += len(load.units)
        summary.duplicates += counts.duplicates
        summary.filtered += counts.filtered
        ever_loaded.update(load.units)


class _GhArchiveRun:
    """Parsing state across the hours of one run: the event ids of the previous hour."""

    def __init__(
        self, loader: IcebergLoader, src: GhArchiveSource, ever_loaded: set[str], repo_filter: RepoFilter | None
    ) -> None:
        self.loader = loader
        self.src = src
        self.ever_loaded = ever_loaded
        self.repo_filter = repo_filter
        self.last_unit: str | None = None
        self.last_ids: set[str] = set()
        self.parsers = BlockParsers()

    def forget(self) -> None:
        """Drop the in-memory ids (after a batch was aborted)."""
        self.last_unit, self.last_ids = None, set()

    def neighbour_ids(self, hour: datetime) -> set[str]:
        """Ids already loaded in the hour before and after: an event archived twice is kept once."""
        seen: set[str] = set()
        before, after = hour_unit(hour - timedelta(hours=1)), hour_unit(hour + timedelta(hours=1))
        if before == self.last_unit:
            seen |= self.last_ids
        elif before in self.ever_loaded:
            seen |= self._ids_of(before)
        if after in self.ever_loaded:
            seen |= self._ids_of(after)
        return seen

    def _ids_of(self, unit: str) -> set[str]:
        table = self.loader.table(GITHUB_EVENTS_TABLE)
        ids = table.scan(row_filter=EqualTo(UNIT_COLUMN, unit), selected_fields=("id",)).to_arrow()
        return set(ids.column("id").to_pylist())

    def load_hour(self, hour: datetime, load: UnitLoad) -> UnitCounts:
        """Stream one hour file into ``load``; returns its counts (and rejects)."""
        unit = hour_unit(hour)
        blocks = self.src.blocks(hour)  # MissingUnit before anything is written
        neighbours = self.neighbour_ids(hour)
        seen = set(neighbours)
        finisher = HourFinisher(seen, self.repo_filter)
        with cyclic_gc_paused():
            for parsed in self.parsers.parse_unit(unit, blocks):
                load.write(finisher.finish(parsed))
        load.add_unit(unit)
        self.last_unit, self.last_ids = unit, seen - neighbours
        return finisher.counts


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while parsing.

    Parsed events are acyclic dicts freed by reference counting; with the collector on,
    the hundred thousand live dicts of a batch are rescanned again and again, which made
    parsing five times slower (measured in bench/ingest.py).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_ossd(
    catalog: Catalog,
    path: str | Path,
    version: str | None = None,
    force: bool = False,
    namespace: str = RAW_NAMESPACE,
) -> LoadSummary:
    """Load one version of the oss-directory into the ``raw.ossd_*`` tables (replacing the previous one).

    The version (a unit) is recorded in each table's snapshot; loading the version a
    table already holds is skipped unless ``force``.
    """
    began = time.monotonic()
    directory = OssDirectorySource(path, version)
    loader = IcebergLoader(catalog, namespace)
    declared = directory.declared_version()
    if declared and not force and all(declared in current_units(loader.table(spec)) for spec in OSSD_TABLES):
        # This version is what every table holds: no need to read and validate 7,000 files again.
        return LoadSummary("ossd", units_skipped=len(OSSD_TABLES), seconds=time.monotonic() - began)
    snapshot = directory.read()
    summary = LoadSummary("ossd")
    tables = [
        (OSSD_PROJECTS_TABLE, snapshot.projects),
        (OSSD_COLLECTIONS_TABLE, snapshot.collections),
        (OSSD_ARTIFACTS_TABLE, snapshot.artifacts),
    ]
    todo = {spec.name for spec, _ in tables if force or snapshot.version not in current_units(loader.table(spec))}
    if todo:
        summary.rejects += loader.write_rejects("ossd", {snapshot.version: snapshot.rejects})
    for spec, data in tables:
        if spec.name not in todo:
            summary.units_skipped += 1
            continue
        load = loader.begin(spec, "ossd", replace=AlwaysTrue())
        load.add_unit(snapshot.version)
        load.write(data)
        summary.add_rows(f"raw.{spec.name}", load.commit({"commonlake.ossd.version": snapshot.version}))
        summary.new_columns.extend(f"{spec.name}.{c}" for c in load.new_columns)
        summary.units_loaded += 1
    summary.seconds = time.monotonic() - began
    return summary


def load_bigquery(
    catalog: Catalog,
    mirror: BigQueryMirror,
    source: BigQuerySource,
    full_refresh: bool = False,
    flush_bytes: int = DEFAULT_FLUSH_BYTES,
    before_commit: BeforeCommitHook | None = None,
    namespace: str = RAW_NAMESPACE,
) -> LoadSummary:
    """Mirror the rows of a BigQuery table or query added since the last run into ``raw.<target>``.

    The unit is the cursor window ``(last mirrored value, current maximum]``; the new
    maximum is stored as a table property in the same commit as the rows, so a run that
    dies mid-window leaves the table and the cursor as they were, and the next run reads
    the same window again. ``full_refresh`` replaces the table with everything up to now.
    New source columns become new Iceberg columns.
    """
    began = time.monotonic()
    summary = LoadSummary("bigquery")
    source.check_reachable()
    high = source.max_cursor(mirror)
    loader = IcebergLoader(catalog, namespace, flush_bytes=flush_bytes, before_commit=before_commit)
    spec = RawTableSpec(mirror.target, pa.schema([pa.field(UNIT_COLUMN, pa.string(), nullable=False)]))
    low: CursorValue | None = None
    if not full_refresh and catalog.table_exists((loader.namespace, mirror.target)):
        recorded = loader.table(spec).properties.get(CURSOR_PROPERTY)
        low = CursorValue.from_json(recorded) if recorded else None
    if high is None or (low is not None and low.text == high.text):
        summary.units_skipped += 1
        summary.seconds = time.monotonic() - began
        return summary
    unit = f"{mirror.cursor}:({'' if low is None else low.text}, {high.text}]"
    load = loader.begin(spec, "bigquery", replace=AlwaysTrue() if full_refresh else None)
    load.add_unit(unit)
    unit_column = pa.field(UNIT_COLUMN, pa.string(), nullable=False)
    for batch in source.read_window(mirror, low, high):
        batch = arrow_for_iceberg(batch)
        load.write(batch.append_column(unit_column, pa.array([unit] * batch.num_rows, pa.string())))
    rows = load.commit({CURSOR_PROPERTY: high.to_json()}, table_properties={CURSOR_PROPERTY: high.to_json()})
    summary.add_rows(f"raw.{mirror.target}", rows)
    summary.new_columns.extend(load.new_columns)
    summary.units_loaded += 1
    summary.seconds = time.monotonic() - began
    return summary


def ossd_repo_filter(catalog: Catalog, namespace: str = RAW_NAMESPACE) -> RepoFilter:
    """The GitHub repositories and owners named in the loaded oss-directory (``raw.ossd_artifacts``)."""
    table = catalog.load_table((namespace, OSSD_ARTIFACTS_TABLE.name))
    urls = table.scan(row_filter=EqualTo("artifact_type", "github"), selected_fields=("url",)).to_arrow()
    repos, owners = [], []
    for url in urls.column("url").to_pylist():
        parts = [p for p in url.split("github.com/", 1)[-1].split("/") if p]
        if len(parts) == 1:
            owners.append(parts[0])
        elif len(parts) >= 2:
            repos.append(f"{parts[0]}/{parts[1].removesuffix('.git')}")
    return RepoFilter(repos, owners)
