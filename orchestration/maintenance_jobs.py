"""Table maintenance as Dagster jobs: compaction, snapshot expiry, orphan-file removal.

Each op calls :func:`operations.maintenance.run_maintenance` for one step; the combined
job runs them in the only safe order (compact, then expire, then remove orphans).
"""

# No `from __future__ import annotations`: Dagster reads these functions' annotations at run time.
import dagster as dg
from pydantic import Field

from operations.maintenance import MaintenanceReport, MaintenanceStep, run_maintenance
from orchestration.resources import Lakehouse


class MaintenanceConfig(dg.Config):
    """Which tables, and whether to only report."""

    tables: list[str] = Field(default_factory=list, description="Tables (ns.table); default: the maintained ones.")
    dry_run: bool = Field(default=False, description="Report what would be done, change nothing.")


def _run(context: dg.OpExecutionContext, lakehouse: Lakehouse, config: MaintenanceConfig, step: MaintenanceStep):
    report: MaintenanceReport = run_maintenance(
        lakehouse.catalog(), lakehouse.settings.maintenance, [step], tables=config.tables, dry_run=config.dry_run
    )
    results = report.compaction or report.expiry or report.orphans
    for result in results:
        context.log.info(f"{step.value}: {result}")
    context.add_output_metadata({"tables": len(results), "step": step.value})


@dg.op(description="Rewrite each partition's small data files as target-sized ones.")
def compact_small_files(
    context: dg.OpExecutionContext, config: MaintenanceConfig, lakehouse: dg.ResourceParam[Lakehouse]
) -> None:
    _run(context, lakehouse, config, MaintenanceStep.COMPACT)


@dg.op(ins={"after": dg.In(dg.Nothing)}, description="Expire snapshots past their retention (the ledger is kept).")
def expire_old_snapshots(
    context: dg.OpExecutionContext, config: MaintenanceConfig, lakehouse: dg.ResourceParam[Lakehouse]
) -> None:
    _run(context, lakehouse, config, MaintenanceStep.EXPIRE_SNAPSHOTS)


@dg.op(ins={"after": dg.In(dg.Nothing)}, description="Delete files no retained snapshot or metadata references.")
def remove_orphan_files(
    context: dg.OpExecutionContext, config: MaintenanceConfig, lakehouse: dg.ResourceParam[Lakehouse]
) -> None:
    _run(context, lakehouse, config, MaintenanceStep.REMOVE_ORPHAN_FILES)


@dg.job(description="Compact, expire snapshots, then remove orphan files of the maintained tables.")
def table_maintenance() -> None:
    remove_orphan_files(after=expire_old_snapshots(after=compact_small_files()))


@dg.job(description="Rewrite small data files of the maintained tables.")
def compact_tables() -> None:
    compact_small_files()


@dg.job(description="Expire old snapshots of the maintained tables.")
def expire_snapshots() -> None:
    expire_old_snapshots()


@dg.job(description="Delete unreferenced files of the maintained tables.")
def remove_orphans() -> None:
    remove_orphan_files()


MAINTENANCE_JOBS = (table_maintenance, compact_tables, expire_snapshots, remove_orphans)
