"""``commonlake ingest …``: load public sources into raw Iceberg tables."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from commonlake.cli.common import DataDir, console, load_settings, rest_catalog

if TYPE_CHECKING:
    from ingestion.loader import LoadSummary

app = typer.Typer(help="Load public sources into raw Iceberg tables.", no_args_is_help=True)


@contextmanager
def _source_errors() -> Iterator[None]:
    """Turn a source that cannot be read at all into a clear message and exit code 2."""
    from ingestion.sources.gharchive import SourceError

    try:
        yield
    except SourceError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


@contextmanager
def _progress(description: str) -> Iterator[Callable[[int, int, str], None]]:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int, unit: str) -> None:
            progress.update(task, completed=done, total=total, description=f"{description} {unit}")

        yield update


def _report(summary: LoadSummary) -> None:
    """Print the summary table; exit 1 when some units are missing or failed."""
    table = Table(title=f"ingest {summary.source}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("units loaded", f"{summary.units_loaded:,}")
    table.add_row("units already loaded", f"{summary.units_skipped:,}")
    table.add_row("rows", f"{summary.rows:,}")
    table.add_row("rejects", f"{summary.rejects:,}")
    if summary.duplicates:
        table.add_row("duplicate events", f"{summary.duplicates:,}")
    if summary.filtered:
        table.add_row("filtered out", f"{summary.filtered:,}")
    for name, rows in sorted(summary.tables.items()):
        table.add_row(f"  {name}", f"{rows:,}")
    if summary.new_columns:
        table.add_row("new columns", ", ".join(summary.new_columns))
    table.add_row("seconds", f"{summary.seconds:.1f}")
    console.print(table)
    if summary.rejects:
        console.print("[yellow]Rejected records are in raw.rejects (source, unit, position, reason, raw).[/]")
    if summary.missing_units:
        console.print(f"[red]missing units:[/] {', '.join(summary.missing_units)}")
    for unit, reason in summary.failed_units.items():
        console.print(f"[red]failed unit {unit}:[/] {reason}")
    if not summary.ok:
        raise typer.Exit(1)


@app.command("gharchive")
def ingest_gharchive(
    start: Annotated[str, typer.Option(help="First hour, YYYY-MM-DD-H (UTC).")],
    end: Annotated[str, typer.Option(help="Last hour, inclusive, YYYY-MM-DD-H (UTC).")],
    source: Annotated[str, typer.Option(help="Directory or HTTP base URL of the hour files.")] = (
        "https://data.gharchive.org"
    ),
    force: Annotated[bool, typer.Option(help="Reload hours that are already loaded.")] = False,
    only_ossd_repos: Annotated[
        bool, typer.Option(help="Keep only events of repositories named in raw.ossd_artifacts.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Load GH Archive hour files into raw.github_events."""
    from ingestion.pipelines import load_gharchive, ossd_repo_filter
    from ingestion.sources.gharchive import hour_range, parse_hour

    settings = load_settings(data_dir)
    with _source_errors():
        first, last = parse_hour(start), parse_hour(end)
        hour_range(first, last)  # a bad range fails before connecting to anything
        catalog = rest_catalog(settings)
        repo_filter = ossd_repo_filter(catalog) if only_ossd_repos else None
        with _progress("GH Archive") as progress:
            summary = load_gharchive(
                catalog,
                first,
                last,
                source,
                force=force,
                progress=progress,
                batch_rows=settings.ingestion.batch_rows,
                flush_bytes=settings.ingestion.flush_bytes,
                repo_filter=repo_filter,
            )
    _report(summary)


@app.command("ossd")
def ingest_ossd(
    path: Annotated[Path, typer.Argument(help="oss-directory checkout or .tar.gz.")],
    version: Annotated[str | None, typer.Option(help="Version stamp (default: commit of the path, or digest).")] = None,
    force: Annotated[bool, typer.Option(help="Reload even when this version is loaded.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Load one version of the oss-directory into raw.ossd_* tables."""
    from ingestion.pipelines import load_ossd

    settings = load_settings(data_dir)
    with _source_errors():
        if not path.exists():
            from ingestion.sources.gharchive import SourceError

            raise SourceError(f"oss-directory path does not exist: {path}")
        with console.status(f"Loading the oss-directory from {path}…"):
            summary = load_ossd(rest_catalog(settings), path, version, force=force)
    _report(summary)


@app.command("bigquery")
def ingest_bigquery(
    target: Annotated[str, typer.Option(help="Iceberg table to write, in namespace raw.")],
    cursor: Annotated[str, typer.Option(help="Cursor column: rows above the last mirrored value are copied.")],
    table: Annotated[str | None, typer.Option(help="Source table, project.dataset.table.")] = None,
    query: Annotated[str | None, typer.Option(help="Source query (GoogleSQL) instead of a table.")] = None,
    staging_dataset: Annotated[
        str | None, typer.Option(help="project.dataset to materialize a query in (default from settings).")
    ] = None,
    full_refresh: Annotated[bool, typer.Option(help="Replace the whole table instead of appending.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Mirror a BigQuery table or query into raw.<target>, incrementally by a cursor column."""
    from ingestion.pipelines import load_bigquery
    from ingestion.sources.bigquery import BigQueryMirror, bigquery_source

    settings = load_settings(data_dir)
    with _source_errors():
        mirror = BigQueryMirror(
            target=target,
            cursor=cursor,
            table=table,
            query=query,
            staging_dataset=staging_dataset or settings.ingestion.bigquery_staging_dataset,
        )
        source = bigquery_source(settings.ingestion)
        with console.status(f"Mirroring {table or 'query'} into raw.{target}…"):
            summary = load_bigquery(
                rest_catalog(settings),
                mirror,
                source,
                full_refresh=full_refresh,
                flush_bytes=settings.ingestion.flush_bytes,
            )
    _report(summary)
