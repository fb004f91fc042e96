"""``commonlake models …``: run the SQLMesh project, publish the marts, test and render models."""

from __future__ import annotations

from typing import Annotated

import typer

from commonlake.cli.common import DataDir, console, load_settings, rest_catalog

app = typer.Typer(help="Run the SQLMesh models and publish the marts.", no_args_is_help=True)

Gateway = Annotated[
    str | None, typer.Option(help="SQLMesh gateway: local (DuckDB), spark or trino (default: from settings).")
]


def _settings(data_dir, gateway: str | None):
    settings = load_settings(data_dir)
    return settings.with_updates(models={"gateway": gateway}) if gateway else settings


@app.command("run")
def models_run(
    start: Annotated[str | None, typer.Option(help="Start of the range to restate (with --restate).")] = None,
    end: Annotated[str | None, typer.Option(help="End of the range to restate (with --restate).")] = None,
    restate: Annotated[list[str] | None, typer.Option(help="Model to recompute over start..end (repeatable).")] = None,
    execution_time: Annotated[
        str | None, typer.Option(help="SQLMesh's 'now': intervals up to it are processed (default: now).")
    ] = None,
    ignore_cron: Annotated[bool, typer.Option(help="Run every model with a missing interval now.")] = False,
    gateway: Gateway = None,
    data_dir: DataDir = None,
) -> None:
    """Plan and run the SQLMesh project, then publish marts.* tables."""
    from sqlmesh_project.runner import run_models

    settings = _settings(data_dir, gateway)
    if restate and not start:
        raise typer.BadParameter("--restate needs --start (and optionally --end)", param_hint="--start")
    summary = run_models(
        settings,
        rest_catalog(settings),
        start=start,
        end=end,
        restate=restate or (),
        execution_time=execution_time,
        ignore_cron=ignore_cron,
    )
    console.print(summary)


@app.command("test")
def models_test(
    match: Annotated[list[str] | None, typer.Argument(help="Only tests whose names match.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the SQLMesh unit tests (YAML, hand-computed rows) on an in-memory DuckDB."""
    from sqlmesh_project.runner import make_context

    context = make_context(load_settings(data_dir))
    try:
        result = context.test(match_patterns=match or None)
    finally:
        context.close()
    failed = result.failures + result.errors
    for test, reason in failed:
        console.print(f"[red]✗[/] {test}\n{reason}")
    if failed:
        console.print(f"[red]{len(failed)} of {result.testsRun} SQLMesh tests failed[/]")
        raise typer.Exit(1)
    console.print(f"[green]✓[/] {result.testsRun} SQLMesh tests passed")


@app.command("render")
def models_render(
    model: Annotated[str, typer.Argument(help="Model name, e.g. metrics.commits_to_project_monthly.")],
    start: Annotated[str, typer.Option(help="Interval start.")] = "2025-09-01",
    end: Annotated[str, typer.Option(help="Interval end.")] = "2025-09-30",
    dialect: Annotated[str | None, typer.Option(help="SQL dialect (default: the gateway's engine).")] = None,
    gateway: Gateway = None,
    data_dir: DataDir = None,
) -> None:
    """Print a model's SQL as the gateway's engine runs it (e.g. --gateway trino)."""
    from sqlmesh_project.project_config import ENGINE_DIALECTS
    from sqlmesh_project.runner import make_context

    settings = _settings(data_dir, gateway)
    context = make_context(settings)
    try:
        query = context.render(model, start=start, end=end)
    finally:
        context.close()
    console.print(query.sql(dialect=dialect or ENGINE_DIALECTS[settings.models.gateway], pretty=True), soft_wrap=True)
