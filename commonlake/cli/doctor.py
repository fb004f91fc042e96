"""``commonlake doctor``: check the configured catalog, object store, database and gateway."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from commonlake.cli.common import DataDir, console, load_settings


def doctor(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Check every configured part and say what is wrong and how to fix it (exit 1 when something is)."""
    from operations.doctor import run_checks

    results = run_checks(load_settings(data_dir))
    if as_json:
        typer.echo(json.dumps([result.as_dict() for result in results], indent=2))
    else:
        table = Table(title="commonlake doctor", show_lines=True)
        for column in ("", "part", "what we found", "how to fix it"):
            table.add_column(column, overflow="fold")
        for result in results:
            mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
            table.add_row(mark, result.name, result.detail, result.fix)
        console.print(table)
    if not all(result.ok for result in results):
        raise typer.Exit(1)
