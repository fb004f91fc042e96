"""The ``commonlake`` command line: one module per command group."""

from __future__ import annotations

import typer

from commonlake.cli import catalog_admin, export, ingest, maintenance, mirror, models, orchestrate, serve
from commonlake.cli.demo import demo
from commonlake.cli.doctor import doctor

app = typer.Typer(help="Commonlake: an open lakehouse for data about the open-source commons.", no_args_is_help=True)
app.command()(demo)
app.add_typer(serve.app, name="serve")
app.add_typer(ingest.app, name="ingest")
app.add_typer(models.app, name="models")
app.add_typer(catalog_admin.app, name="catalog")
app.add_typer(orchestrate.app, name="orchestrate")
app.add_typer(maintenance.app, name="maintenance")
app.add_typer(export.app, name="export")
app.add_typer(mirror.app, name="mirror")
app.command()(doctor)

__all__ = ["app"]
