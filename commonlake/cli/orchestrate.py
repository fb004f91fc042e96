"""``commonlake orchestrate …``: the pipeline through Dagster (its web UI, or one run in-process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

import httpx
import typer

from commonlake.cli.common import DataDir, console, load_settings
from commonlake.settings import Settings

PARTITION_FORMAT = "%Y-%m-%d-%H:%M"  # orchestration.ingestion_assets' format (not imported: Dagster is slow to import)

app = typer.Typer(help="Run the pipeline with Dagster: the web UI, or one run in-process.", no_args_is_help=True)

Sample = Annotated[bool, typer.Option("--sample", help="Generate the demo sample and point the sources at it.")]
Days = Annotated[int, typer.Option(min=1, help="Days of the generated sample.")]


def dagster_home(settings: Settings) -> Path:
    """DAGSTER_HOME for these settings (created)."""
    home = (settings.orchestration.dagster_home or settings.resolved_data_dir / "dagster").expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        # Loading the SQLMesh project can take minutes on a busy machine; Dagster's default
        # code-server startup timeout is shorter.
        config.write_text("telemetry:\n  enabled: false\ncode_servers:\n  local_startup_timeout: 600\n")
    return home


def with_sample(settings: Settings, days: int, projects: int = 12, seed: int = 42) -> tuple[Settings, str, str]:
    """Generate the demo sample under the data directory and point the sources (and models' start) at it.

    Returns the settings and the first and last hour partition of the sample.
    """
    from ingestion.synthetic import SampleSpec, generate_sample

    spec = SampleSpec(seed=seed, days=days, projects=projects, start=date(2025, 9, 1))
    manifest = generate_sample(settings.resolved_data_dir / "sample", spec)
    first, last = manifest.start.strftime(PARTITION_FORMAT), manifest.end.strftime(PARTITION_FORMAT)
    updated = settings.with_updates(
        orchestration={
            "gharchive_source": str(manifest.gharchive_dir),
            "ossd_source": str(manifest.ossd_dir),
            "gharchive_start": first,
        },
        models={"start": spec.start.isoformat()},
    )
    return updated, first, last


@contextmanager
def running_catalog(settings: Settings) -> Iterator[Settings]:
    """The configured catalog if it answers; otherwise one started for the duration (like the demo)."""
    from commonlake.servers import ServerProcess, port_or_free

    try:
        if httpx.get(f"{settings.catalog_uri}/health", timeout=2).status_code == 200:
            yield settings
            return
    except httpx.HTTPError:
        pass
    settings = settings.with_updates(catalog={"port": port_or_free(settings.catalog.port), "uri": None})
    log = settings.resolved_data_dir / "logs" / "catalog.log"
    server = ServerProcess("catalog", settings, settings.catalog.host, settings.catalog.port, log)
    with console.status("Starting the Iceberg REST catalog…"):
        server.start()
    console.print(f"[green]✓[/] catalog at {settings.catalog_uri} (log: {log})")
    try:
        yield settings
    finally:
        server.stop()


@app.command("ui")
def ui(
    host: Annotated[str | None, typer.Option(help="Bind address of the web UI.")] = None,
    port: Annotated[int | None, typer.Option(help="Port of the web UI.")] = None,
    sample: Sample = False,
    days: Days = 2,
    data_dir: DataDir = None,
) -> None:
    """Open Dagster's web UI (dagster dev: UI + schedules and sensors) on these settings."""
    settings = load_settings(data_dir)
    if sample:
        settings, _, _ = with_sample(settings, days)
    host = host or settings.orchestration.webserver_host
    port = port or settings.orchestration.webserver_port
    with running_catalog(settings) as settings:
        env = {
            **os.environ,
            **settings.to_env(),
            "DAGSTER_HOME": str(dagster_home(settings)),
            "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1",
        }
        command = [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-m",
            "orchestration.definitions",
            "-h",
            host,
            "-p",
            str(port),
        ]
        console.print(f"Dagster UI at http://{host}:{port} (Ctrl-C stops it)")
        # SIGTERM stops like Ctrl-C, so that the catalog started above is stopped too.
        signal.signal(signal.SIGTERM, _interrupt)
        process = subprocess.Popen(command, env=env)
        try:
            code = process.wait()
        except KeyboardInterrupt:
            process.terminate()
            code = process.wait(timeout=60)
    raise typer.Exit(code)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@app.command("run")
def run(
    start: Annotated[str | None, typer.Option(help="First GH Archive hour partition (YYYY-MM-DD-HH:MM).")] = None,
    end: Annotated[str | None, typer.Option(help="Last GH Archive hour partition, inclusive.")] = None,
    sample: Sample = False,
    days: Days = 2,
    data_dir: DataDir = None,
) -> None:
    """Materialize the whole asset graph in this process (the demo path, through Dagster)."""
    from dagster import DagsterInstance

    from orchestration.definitions import PIPELINE_JOB, build_definitions
    from orchestration.run_report import RANGE_END_TAG, RANGE_START_TAG, summarize_run

    settings = load_settings(data_dir)
    if sample:
        settings, first, last = with_sample(settings, days)
        start, end = start or first, end or last
    if not start or not end:
        console.print("[red]error:[/] give --start and --end (GH Archive hours), or --sample")
        raise typer.Exit(2)
    with running_catalog(settings) as settings:
        with console.status("Loading the Dagster definitions (the SQLMesh project)…"):
            definitions = build_definitions(settings)
        job = definitions.resolve_job_def(PIPELINE_JOB)
        with DagsterInstance.from_config(str(dagster_home(settings))) as instance:
            result = job.execute_in_process(
                instance=instance, tags={RANGE_START_TAG: start, RANGE_END_TAG: end}, raise_on_error=False
            )
            console.print(summarize_run(result))
    if not result.success:
        raise typer.Exit(1)
