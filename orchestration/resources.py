"""The one Dagster resource: the settings, and the catalog client built from them."""

from __future__ import annotations

from dataclasses import dataclass

from pyiceberg.catalog import Catalog, load_catalog

from commonlake.settings import Settings


@dataclass(frozen=True)
class Lakehouse:
    """What every asset and op needs: Commonlake's settings and a catalog connection."""

    settings: Settings

    def catalog(self) -> Catalog:
        """A PyIceberg REST catalog client for the configured catalog server."""
        return load_catalog("commonlake", **self.settings.rest_catalog_properties())
