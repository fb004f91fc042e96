"""``commonlake export bigquery``: mirror the marts into a BigQuery dataset."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from commonlake.cli.common import DataDir, console, load_settings, rest_catalog

app = typer.Typer(help="Mirror the marts to other warehouses.", no_args_is_help=True)


@app.command("bigquery")
def export_bigquery(
    dataset: Annotated[str | None, typer.Option(help="Dataset (dataset or project.dataset).")] = None,
    table: Annotated[list[str] | None, typer.Option(help="A mart to mirror (default: every one); repeatable.")] = None,
    create_dataset: Annotated[bool, typer.Option(help="Create the dataset when it does not exist.")] = False,
    project: Annotated[str | None, typer.Option(help="Google Cloud project.")] = None,
    api_endpoint: Annotated[str | None, typer.Option(help="BigQuery API endpoint (an emulator).")] = None,
    anonymous: Annotated[bool, typer.Option(help="No credentials (an emulator only).")] = False,
    data_dir: DataDir = None,
) -> None:
    """Mirror every marts.* table into a BigQuery dataset (atomic per table, idempotent)."""
    from operations.bigquery_export import BigQueryExportError, export_marts

    settings = load_settings(data_dir)
    changes = {"bigquery_project": project, "bigquery_api_endpoint": api_endpoint}
    export = settings.export.model_copy(update={k: v for k, v in changes.items() if v is not None})
    if anonymous:
        export = export.model_copy(update={"bigquery_anonymous": True})
    try:
        mirrored = export_marts(
            rest_catalog(settings),
            export,
            settings.models.marts_namespace,
            dataset=dataset,
            tables=table or (),
            create_dataset=create_dataset,
        )
    except BigQueryExportError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from None
    result = Table(title="BigQuery mirror")
    for column in ("mart", "BigQuery table", "snapshot", "rows", "action"):
        result.add_column(column)
    for item in mirrored:
        action = "loaded" if item.loaded else "unchanged"
        result.add_row(item.source, item.destination, str(item.snapshot_id), f"{item.rows:,}", action)
    console.print(result)
