"""What every request handler needs: the store, the metadata files, the warehouses and auth."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from fastapi import Request

from catalog.auth import Authenticator, Principal
from catalog.errors import NoSuchWarehouseError
from catalog.idempotency import IdempotencyStore
from catalog.metadata_files import MetadataFiles
from catalog.names import decode_segment
from catalog.store import CatalogStore
from catalog.tables import TableCatalog
from catalog.views import ViewCatalog
from catalog.warehouse import Warehouse
from commonlake.settings import Settings


@dataclass
class CatalogContext:
    """Shared, stateless-apart-from-the-database server state."""

    store: CatalogStore
    files: MetadataFiles
    warehouses: dict[str, Warehouse]
    default_warehouse: str
    settings: Settings
    authenticator: Authenticator | None
    idempotency: IdempotencyStore
    _tables: dict[str, TableCatalog] = field(default_factory=dict)
    _views: dict[str, ViewCatalog] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> CatalogContext:
        """Open the catalog database and describe the configured warehouses."""
        store = CatalogStore.from_url(settings.catalog_database_url, settings.catalog.database_synchronous_commit)
        fileio = settings.storage.fileio_properties()
        files = MetadataFiles(fileio, settings.catalog.metadata_cache_entries)
        locations = {settings.catalog.warehouse: settings.warehouse_location, **settings.catalog.extra_warehouses}
        warehouses = {name: Warehouse(name, location, fileio) for name, location in locations.items()}
        for wh in warehouses.values():
            if wh.root.startswith("file://"):
                Path(unquote(urlparse(wh.root).path)).mkdir(parents=True, exist_ok=True)
        authenticator = Authenticator(settings.catalog.auth, store) if settings.catalog.auth.enabled else None
        idempotency = IdempotencyStore(store, settings.catalog.idempotency_key_lifetime_seconds)
        return cls(store, files, warehouses, settings.catalog.warehouse, settings, authenticator, idempotency)

    def warehouse(self, name: str | None) -> Warehouse:
        """The warehouse named by a client (the default one when not named)."""
        if not name:
            return self.warehouses[self.default_warehouse]
        if name in self.warehouses:
            return self.warehouses[name]
        # Clients may name a warehouse by its location instead of its name.
        for wh in self.warehouses.values():
            if wh.root == name.rstrip("/"):
                return wh
        raise NoSuchWarehouseError(f"Warehouse does not exist: {name}")

    def tables(self, prefix: str) -> TableCatalog:
        """Table operations for the warehouse named by a route prefix."""
        wh = self.warehouse(decode_segment(prefix))
        tc = self._tables.get(wh.name)
        if tc is None:
            tc = self._tables[wh.name] = TableCatalog(self.store, self.files, wh, self.settings.catalog.commit_retries)
        return tc

    def views(self, prefix: str) -> ViewCatalog:
        """View operations for the warehouse named by a route prefix."""
        wh = self.warehouse(decode_segment(prefix))
        vc = self._views.get(wh.name)
        if vc is None:
            vc = self._views[wh.name] = ViewCatalog(self.store, self.files, wh, self.settings.catalog.commit_retries)
        return vc


def get_context(request: Request) -> CatalogContext:
    """FastAPI dependency: the application's CatalogContext."""
    return request.app.state.catalog


def may_see_secrets(request: Request) -> bool:
    """True unless the caller is anonymous: storage secrets are only for authenticated principals."""
    principal: Principal | None = request.scope.get("state", {}).get("principal")
    return principal is None or principal.authenticated
