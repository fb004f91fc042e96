"""``commonlake maintenance …``: compact, expire snapshots, remove orphan files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from commonlake.cli.common import DataDir, console, load_settings, rest_catalog

if TYPE_CHECKING:
    from operations.maintenance import MaintenanceReport, MaintenanceStep

app = typer.Typer(help="Table maintenance of the raw tables (or the ones named).", no_args_is_help=True)

Tables = Annotated[list[str] | None, typer.Option("--table", help="A table (ns.table) to maintain; repeatable.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Report what would change; change nothing.")]


def _run(steps: list[MaintenanceStep], tables: list[str] | None, dry_run: bool, data_dir, **limits) -> None:
    from operations.maintenance import run_maintenance

    settings = load_settings(data_dir)
    changes = {key: value for key, value in limits.items() if value is not None}
    maintenance = settings.maintenance.model_copy(update=changes)
    report = run_maintenance(rest_catalog(settings), maintenance, steps, tables=tables or (), dry_run=dry_run)
    console.print(_report_table(report, dry_run))


def _report_table(report: MaintenanceReport, dry_run: bool) -> Table:
    table = Table(title="Table maintenance" + (" (dry run)" if dry_run else ""))
    for column in ("table", "step", "result"):
        table.add_column(column)
    for result in report.compaction:
        table.add_row(
            result.table,
            "compact",
            f"{result.files_before} files → {result.files_after} in {result.partitions} partitions, {result.rows} rows",
        )
    for result in report.expiry:
        table.add_row(
            result.table, "expire", f"{len(result.expired_snapshot_ids)} expired, {result.kept_snapshots} kept"
        )
    for result in report.orphans:
        table.add_row(
            result.table,
            "orphans",
            f"{len(result.deleted)} deleted ({result.deleted_bytes:,} bytes), {result.too_young} too young to delete",
        )
    return table


@app.command("compact")
def compact(
    tables: Tables = None,
    target_file_bytes: Annotated[int | None, typer.Option(help="Files smaller than this are compacted.")] = None,
    min_input_files: Annotated[int | None, typer.Option(help="Compact a partition from this many files.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Rewrite each partition's small data files as target-sized ones (rows unchanged)."""
    from operations.maintenance import MaintenanceStep

    _run(
        [MaintenanceStep.COMPACT],
        tables,
        False,
        data_dir,
        compaction_target_file_bytes=target_file_bytes,
        compaction_min_input_files=min_input_files,
    )


@app.command("expire-snapshots")
def expire_snapshots(
    tables: Tables = None,
    older_than_hours: Annotated[float | None, typer.Option(help="Expire snapshots older than this.")] = None,
    retain_last: Annotated[int | None, typer.Option(help="Snapshots always kept.")] = None,
    dry_run: DryRun = False,
    data_dir: DataDir = None,
) -> None:
    """Expire old snapshots (the newest ones, branch and tag heads, and the load ledger are kept)."""
    from operations.maintenance import MaintenanceStep

    _run(
        [MaintenanceStep.EXPIRE_SNAPSHOTS],
        tables,
        dry_run,
        data_dir,
        snapshot_max_age_hours=older_than_hours,
        retain_last_snapshots=retain_last,
    )


@app.command("remove-orphan-files")
def remove_orphan_files(
    tables: Tables = None,
    older_than_hours: Annotated[float | None, typer.Option(help="Only files older than this are deleted.")] = None,
    dry_run: DryRun = False,
    data_dir: DataDir = None,
) -> None:
    """Delete files under the tables' locations that no retained snapshot or metadata file references."""
    from operations.maintenance import MaintenanceStep

    _run([MaintenanceStep.REMOVE_ORPHAN_FILES], tables, dry_run, data_dir, orphan_min_age_hours=older_than_hours)


@app.command("all")
def all_steps(tables: Tables = None, dry_run: DryRun = False, data_dir: DataDir = None) -> None:
    """Compact, expire snapshots, then remove orphan files, with the configured limits."""
    from operations.maintenance import ALL_STEPS

    _run(list(ALL_STEPS), tables, dry_run, data_dir)
