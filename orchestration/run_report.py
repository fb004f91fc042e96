"""A summary of one Dagster run for the terminal: what materialized, what checks said, what failed."""

from __future__ import annotations

from collections import Counter

from dagster import ExecuteInProcessResult
from rich.table import Table

from orchestration.automation import RANGE_END_TAG, RANGE_START_TAG

__all__ = ["RANGE_END_TAG", "RANGE_START_TAG", "summarize_run"]


def summarize_run(result: ExecuteInProcessResult) -> Table:
    """Materializations per asset group, failed checks and failed steps of an in-process run."""
    table = Table(title=f"Dagster run {result.run_id[:8]}: {'success' if result.success else 'FAILED'}")
    table.add_column("what")
    table.add_column("count / detail")
    materialized = [event.asset_key for event in result.get_asset_materialization_events() if event.asset_key]
    groups = Counter(key.path[0] for key in materialized)
    for group, count in sorted(groups.items()):
        table.add_row(f"materialized {group}/*", str(count))
    checks = result.get_asset_check_evaluations()
    table.add_row("asset checks passed", str(sum(check.passed for check in checks)))
    for check in checks:
        if not check.passed:
            table.add_row("[red]check failed[/]", f"{check.asset_key.to_user_string()}:{check.check_name}")
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            table.add_row(f"[red]step failed[/] {event.step_key}", (error.message if error else "").strip()[:500])
    return table
