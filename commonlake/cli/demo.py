"""``commonlake demo`` (and ``commonlake demo --fork-of <uri>``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from commonlake.cli.common import DataDir, console, load_settings

FORK_DATA_DIR = Path(".commonlake-fork")


def demo(
    data_dir: DataDir = None,
    keep_running: Annotated[bool, typer.Option(help="Leave the servers up until Ctrl-C.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the generated sample.")] = 42,
    days: Annotated[int, typer.Option(min=1, help="Days of GH Archive events to generate.")] = 7,
    projects: Annotated[int, typer.Option(min=2, help="Projects in the generated directory.")] = 24,
    s3: Annotated[bool, typer.Option("--s3", help="Keep the warehouse in a real S3 server (SeaweedFS).")] = False,
    fork_of: Annotated[
        str | None,
        typer.Option(
            "--fork-of",
            help="Instead: start a second node that mirrors this catalog URI's marts and computes its own metric "
            f"(data in {FORK_DATA_DIR} unless --data-dir).",
        ),
    ] = None,
    fork_mode: Annotated[str, typer.Option(help="Mirror mode of --fork-of: copy or register.")] = "copy",
) -> None:
    """Run the whole lakehouse end to end on the embedded defaults."""
    if fork_of:
        from commonlake.demo import ForkDemoError, run_fork_demo

        settings = load_settings(data_dir if data_dir is not None else FORK_DATA_DIR)
        try:
            run_fork_demo(settings, fork_of, keep_running=keep_running, console=console, mode=fork_mode)
        except ForkDemoError as exc:
            console.print(f"[red]✗[/] {exc}")
            raise typer.Exit(code=1) from None
        return

    from commonlake.demo import run_demo
    from ingestion.synthetic import SampleSpec

    spec = SampleSpec(seed=seed, days=days, projects=projects, start=date(2025, 9, 1))
    run_demo(load_settings(data_dir), spec, keep_running=keep_running, console=console, s3=s3)
