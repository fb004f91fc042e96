"""Shared pieces of the CLI: settings loading, the console, common options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from commonlake.settings import Settings

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")

console = Console()
DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Data directory (default: ./.commonlake).")]


def load_settings(data_dir: Path | None = None) -> Settings:
    """Settings from COMMONLAKE_* variables, with command-line overrides."""
    settings = Settings()
    if data_dir is not None:
        settings = settings.with_updates(data_dir=data_dir)
    return settings


def rest_catalog(settings: Settings) -> Catalog:
    """A PyIceberg RestCatalog connected to the configured catalog server."""
    from pyiceberg.catalog import load_catalog

    return load_catalog("commonlake", **settings.rest_catalog_properties())
