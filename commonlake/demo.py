"""``commonlake demo``: the whole lakehouse, end to end, on the embedded defaults.

1. start the REST catalog (SQLite + file:// warehouse under the data directory);
2. generate a deterministic sample (oss-directory tree + GH Archive hour files);
3. ingest both into raw Iceberg tables through the catalog;
4. run the SQLMesh project on DuckDB and publish the marts;
5. start the query gateway and ask it for the most active projects;
6. print how to attach PyIceberg, DuckDB and Spark.

Every step is idempotent: a second run adds no rows and recomputes nothing.

``commonlake demo --fork-of <uri>`` (:func:`run_fork_demo`) instead starts a second node
that mirrors another node's marts and computes a metric of its own from them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx
from pyiceberg.catalog import load_catalog
from pyiceberg.table import Table as IcebergTable
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from commonlake.duckdb_attach import attach_statement
from commonlake.seaweedfs import SeaweedFS
from commonlake.servers import ServerProcess, port_or_free
from commonlake.settings import Settings
from ingestion.loader import LoadSummary
from ingestion.synthetic import SampleSpec, generate_sample

if TYPE_CHECKING:
    from mirror import RefreshReport as MirrorReport

TOP_PROJECTS_SQL = """
SELECT project_name,
       SUM(CASE WHEN event_type = 'COMMIT_CODE' THEN amount ELSE 0 END) AS commits,
       SUM(CASE WHEN event_type = 'STARRED' THEN amount ELSE 0 END) AS stars,
       SUM(CASE WHEN event_type = 'PULL_REQUEST_OPENED' THEN amount ELSE 0 END) AS prs_opened,
       SUM(event_count) AS events
FROM marts.events_daily_to_project
GROUP BY project_name
ORDER BY events DESC, project_name
LIMIT 10
""".strip()


@dataclass
class DemoResult:
    """What the demo did, for tests and for the final report."""

    catalog_uri: str
    gateway_url: str
    raw_counts: dict[str, int] = field(default_factory=dict)
    mart_counts: dict[str, int] = field(default_factory=dict)
    top_projects: dict = field(default_factory=dict)
    ingest: list[LoadSummary] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def demo_settings(settings: Settings, spec: SampleSpec) -> Settings:
    """The settings the demo runs with: loopback ports (the configured ones when free), models from the sample."""
    return settings.with_updates(
        catalog={"host": "127.0.0.1", "port": port_or_free(settings.catalog.port), "uri": None},
        gateway={"host": "127.0.0.1", "port": port_or_free(settings.gateway.port)},
        models={"start": spec.start.isoformat()},
    )


def run_demo(
    settings: Settings,
    spec: SampleSpec | None = None,
    keep_running: bool = False,
    console: Console | None = None,
    s3: bool = False,
) -> DemoResult:
    """Run the whole pipeline; servers stop at the end unless ``keep_running``.

    With ``s3`` the warehouse lives in a real S3 server (SeaweedFS) started for the run.
    """
    from ingestion.pipelines import load_gharchive, load_ossd
    from sqlmesh_project.runner import run_models

    console = console or Console()
    spec = spec or SampleSpec()
    settings = demo_settings(settings, spec)
    data_dir = settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    result = DemoResult(settings.catalog_uri, settings.gateway_url)

    object_store = SeaweedFS(data_dir / "seaweedfs") if s3 else None
    if object_store is not None:
        with console.status("Starting SeaweedFS (S3)…"):
            object_store.start()
        settings = settings.with_updates(**object_store.settings_changes())
        console.print(f"[green]✓[/] S3 (SeaweedFS) at {object_store.endpoint}, warehouse {settings.warehouse_location}")

    catalog_server = ServerProcess(
        "catalog", settings, settings.catalog.host, settings.catalog.port, logs / "catalog.log"
    )
    gateway_server = ServerProcess(
        "gateway", settings, settings.gateway.host, settings.gateway.port, logs / "gateway.log"
    )
    try:
        with console.status("Starting the Iceberg REST catalog…"):
            catalog_server.start()
        console.print(f"[green]✓[/] catalog at {settings.catalog_uri} (data in {data_dir})")
        catalog = load_catalog("commonlake", **settings.rest_catalog_properties())

        began = time.monotonic()
        with console.status("Generating the sample…"):
            manifest = generate_sample(data_dir / "sample", spec)
        result.seconds["generate"] = time.monotonic() - began
        console.print(
            f"[green]✓[/] sample: {spec.projects} projects, {manifest.events:,} events in "
            f"{len(manifest.files)} hour files ({spec.start} + {spec.days} days, seed {spec.seed})"
        )

        began = time.monotonic()
        ossd = load_ossd(catalog, manifest.ossd_dir)
        result.ingest.append(ossd)
        with _progress(console) as progress:
            task = progress.add_task("Ingesting GH Archive hours", total=len(manifest.files))
            events = load_gharchive(
                catalog,
                manifest.start,
                manifest.end,
                manifest.gharchive_dir,
                progress=lambda done, total, unit: progress.update(
                    task, completed=done, description=f"Ingesting {unit}"
                ),
            )
        result.ingest.append(events)
        result.seconds["ingest"] = time.monotonic() - began
        for summary in result.ingest:
            console.print(
                f"[green]✓[/] {summary.source}: {summary.units_loaded} units loaded, {summary.units_skipped} already "
                f"loaded, {summary.rows:,} rows, {summary.rejects} rejects ({summary.seconds:.1f}s)"
            )

        began = time.monotonic()
        with console.status("Running the SQLMesh models on DuckDB…"):
            models = run_models(settings, catalog)
        result.seconds["models"] = time.monotonic() - began
        console.print(
            f"[green]✓[/] models: {'plan applied' if models.plan_applied else 'no changes'}; published "
            f"{len(models.published)} marts, {len(models.unchanged)} unchanged ({result.seconds['models']:.1f}s)"
        )

        for namespace in ("raw", settings.models.marts_namespace):
            for identifier in catalog.list_tables(namespace):
                name = ".".join(identifier)
                count = _row_count(catalog.load_table(identifier))
                (result.raw_counts if namespace == "raw" else result.mart_counts)[name] = count

        with console.status("Starting the query gateway…"):
            gateway_server.start()
        response = httpx.post(f"{settings.gateway_url}/v1/sql", json={"query": TOP_PROJECTS_SQL}, timeout=60)
        response.raise_for_status()
        result.top_projects = response.json()
        console.print(_results_table(result.top_projects, "Most active projects (via the query gateway)"))
        console.print(_attach_panel(settings, keep_running))

        if keep_running:
            console.print("[bold]Servers are running. Press Ctrl-C to stop.[/]")
            try:
                while catalog_server.process and catalog_server.process.poll() is None:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                console.print("Stopping…")
    finally:
        gateway_server.stop()
        catalog_server.stop()
        if object_store is not None:
            object_store.stop()
    return result


FORK_TOP_SQL = """
SELECT project_name, events, ROUND(event_share * 100, 2) AS event_share_pct,
       ROUND(commit_share * 100, 2) AS commit_share_pct, activity_rank
FROM marts.project_activity_share_v1
ORDER BY activity_rank, project_name
LIMIT 10
""".strip()


@dataclass
class ForkDemoResult:
    """What the fork demo did: the mirror refresh, the fork's own marts, and its gateway's answer."""

    catalog_uri: str
    gateway_url: str
    mirror_report: MirrorReport | None = None
    published: dict[str, int] = field(default_factory=dict)
    top_projects: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def run_fork_demo(
    settings: Settings,
    fork_of: str,
    keep_running: bool = False,
    console: Console | None = None,
    mode: str = "copy",
) -> ForkDemoResult:
    """A second node that mirrors ``fork_of``'s marts and computes a metric of its own from them.

    Starts this node's catalog, mirrors the remote's ``marts`` as ``upstream.marts.*`` (added
    on the first run, refreshed on later ones), runs the fork's SQLMesh project over them,
    publishes its metric as ``marts.project_activity_share_v1`` and asks this node's own
    gateway for it.
    """
    from mirror import MirrorError, add_mirror, get_mirror, refresh_mirror
    from mirror.errors import MirrorConfigError
    from mirror.fork import FORK_MIRROR, run_fork_models

    console = console or Console()
    settings = settings.with_updates(
        catalog={"host": "127.0.0.1", "port": port_or_free(settings.catalog.port), "uri": None},
        gateway={"host": "127.0.0.1", "port": port_or_free(settings.gateway.port)},
    )
    data_dir = settings.resolved_data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs"
    result = ForkDemoResult(settings.catalog_uri, settings.gateway_url)
    catalog_server = ServerProcess(
        "catalog", settings, settings.catalog.host, settings.catalog.port, logs / "catalog.log"
    )
    gateway_server = ServerProcess(
        "gateway", settings, settings.gateway.host, settings.gateway.port, logs / "gateway.log"
    )
    try:
        with console.status("Starting this node's Iceberg REST catalog…"):
            catalog_server.start()
        console.print(f"[green]✓[/] fork node catalog at {settings.catalog_uri} (data in {data_dir})")
        catalog = load_catalog("commonlake", **settings.rest_catalog_properties())

        began = time.monotonic()
        try:
            try:
                get_mirror(settings, FORK_MIRROR, catalog)
            except MirrorConfigError:
                add_mirror(settings, FORK_MIRROR, fork_of, "marts", mode, catalog=catalog)
                console.print(f"[green]✓[/] mirror {FORK_MIRROR!r} of {fork_of} added ({mode} mode)")
            with console.status(f"Mirroring the marts of {fork_of}…"):
                report = refresh_mirror(settings, FORK_MIRROR, catalog)
        except MirrorError as exc:
            raise ForkDemoError(str(exc)) from exc
        result.mirror_report = report
        result.seconds["mirror"] = time.monotonic() - began
        failed = [f"{o.table}: {o.message}" for o in report.outcomes if not o.ok]
        if failed:
            raise ForkDemoError("mirror refresh failed: " + "; ".join(failed))
        stats = report.stats
        console.print(
            f"[green]✓[/] mirrored {len(report.outcomes)} marts as {FORK_MIRROR}.marts.*: {stats.files_copied} files, "
            f"{stats.bytes_copied:,} bytes copied ({result.seconds['mirror']:.1f}s)"
        )

        began = time.monotonic()
        with console.status("Running the fork's own SQLMesh models on the mirrored marts…"):
            result.published = run_fork_models(settings, catalog)
        result.seconds["models"] = time.monotonic() - began
        published = ", ".join(result.published)
        console.print(f"[green]✓[/] fork models published {published} ({result.seconds['models']:.1f}s)")

        with console.status("Starting this node's query gateway…"):
            gateway_server.start()
        response = httpx.post(f"{settings.gateway_url}/v1/sql", json={"query": FORK_TOP_SQL}, timeout=60)
        response.raise_for_status()
        result.top_projects = response.json()
        console.print(_results_table(result.top_projects, "Activity share: a metric of this fork (via its gateway)"))
        console.print(_fork_panel(settings, fork_of, keep_running))
        if keep_running:
            console.print("[bold]Servers are running. Press Ctrl-C to stop.[/]")
            try:
                while catalog_server.process and catalog_server.process.poll() is None:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                console.print("Stopping…")
    finally:
        gateway_server.stop()
        catalog_server.stop()
    return result


class ForkDemoError(RuntimeError):
    """The fork demo could not mirror the remote node (the message says why)."""


def _fork_panel(settings: Settings, fork_of: str, running: bool) -> Panel:
    note = "" if running else "\n[dim](the servers stop when the demo ends; run with --keep-running to try these)[/]"
    text = (
        f"[bold]This node[/]      catalog {settings.catalog_uri}, gateway {settings.gateway_url}\n"
        f"[bold]Upstream node[/]  {fork_of}, mirrored read-only as upstream.marts.*\n\n"
        "[bold]Refresh the mirror[/]   commonlake mirror refresh upstream\n"
        '[bold]DuckDB[/]               SELECT * FROM commonlake."upstream.marts".projects_v1 LIMIT 5;\n'
        "[bold]Gateway[/]              "
        f"curl -s {settings.gateway_url}/v1/sql -H 'content-type: application/json' "
        '-d \'{"query": "SELECT * FROM marts.project_activity_share_v1 LIMIT 5"}\''
        f"{note}"
    )
    return Panel(text, title="A fork of another Commonlake node", expand=False)


def _row_count(table: IcebergTable) -> int:
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return 0
    return int(snapshot.summary.additional_properties.get("total-records", 0))


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _results_table(body: dict, title: str) -> Table:
    table = Table(title=title)
    for column in body["columns"]:
        table.add_column(column, justify="left" if column.endswith("name") else "right")
    for row in body["rows"]:
        table.add_row(*[f"{v:,.0f}" if isinstance(v, int | float) else str(v) for v in row])
    return table


def _attach_panel(settings: Settings, running: bool) -> Panel:
    uri, wh = settings.catalog_uri, settings.catalog.warehouse
    note = "" if running else "\n[dim](the servers stop when the demo ends; run with --keep-running to try these)[/]"
    text = (
        f"[bold]Iceberg REST catalog[/]  {uri}   warehouse: {wh}\n"
        f"[bold]Query gateway[/]         {settings.gateway_url}   (POST /v1/sql, docs at /docs)\n\n"
        "[bold]PyIceberg[/]\n"
        "  from pyiceberg.catalog import load_catalog\n"
        f'  cat = load_catalog("commonlake", type="rest", uri="{uri}", warehouse="{wh}")\n'
        '  cat.load_table("marts.events_daily_to_project").scan().to_arrow()\n\n'
        "[bold]DuckDB[/]\n"
        f"  INSTALL iceberg; LOAD iceberg;\n  {attach_statement(settings, 'commonlake')};\n"
        "  SELECT * FROM commonlake.marts.projects_v1 LIMIT 5;\n\n"
        "[bold]Spark[/]\n"
        "  --conf spark.sql.catalog.commonlake=org.apache.iceberg.spark.SparkCatalog\n"
        f"  --conf spark.sql.catalog.commonlake.type=rest --conf spark.sql.catalog.commonlake.uri={uri}\n"
        f"  --conf spark.sql.catalog.commonlake.warehouse={wh}\n\n"
        "[bold]Gateway[/]\n"
        f"  curl -s {settings.gateway_url}/v1/sql -H 'content-type: application/json' "
        '-d \'{"query": "SELECT * FROM marts.projects_v1 LIMIT 5"}\''
        f"{note}"
    )
    return Panel(text, title="Attach your own engine", expand=False)
