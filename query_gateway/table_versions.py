"""The current version of each table, asked of the catalog on every query, cheaply.

Every query must see each table's current snapshot (and the result cache must never
serve a stale answer), so the gateway asks the catalog for every table on every query.
PyIceberg 0.12's ``RestCatalog.load_table`` always downloads and parses the full
metadata; the REST spec's conditional loadTable (``If-None-Match`` with the ETag of the
previous answer, 304 when unchanged) makes the common case a bodiless round trip. PyIceberg
has no such call, so this module sends it through the catalog's own authenticated
session's connection pool (``catalog_get``; private attributes of the pinned PyIceberg;
any other Catalog falls back to ``load_table``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from pyiceberg.catalog import Catalog
from pyiceberg.catalog.rest import Endpoints, RestCatalog, TableResponse
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError
from pyiceberg.table import Table

from query_gateway.catalog_get import UNREACHABLE, CatalogGetter
from query_gateway.errors import QueryError


@dataclass(frozen=True)
class TableVersion:
    """A table as of one metadata file: what a query reads and what the cache is keyed by."""

    identifier: tuple[str, str]
    table: Table

    @property
    def metadata_location(self) -> str:
        """The metadata file this version was read from."""
        return self.table.metadata_location

    @property
    def snapshot_id(self) -> int | None:
        """The current snapshot id (None for a table without data)."""
        snapshot = self.table.current_snapshot()
        return snapshot.snapshot_id if snapshot else None

    @property
    def cache_key(self) -> tuple:
        """What identifies this version's contents: snapshot and schema."""
        return (self.identifier, self.snapshot_id, self.table.metadata.current_schema_id)


class TableVersions:
    """Loads tables from the catalog, re-using the parsed metadata while the ETag still matches."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._known: dict[tuple[str, str], tuple[str, Table]] = {}  # identifier → (etag, table)
        self._unchanged: set[tuple[str, str]] = set()  # tables whose last probe found the version already known
        self._getter: CatalogGetter | None = None
        self._lock = threading.Lock()

    def settled(self, identifier: tuple[str, str]) -> TableVersion | None:
        """The version the last probe found, if that probe found it unchanged (no catalog request).

        Only a guess at the current version, for work that the next probe then confirms.
        """
        with self._lock:
            known = self._known.get(identifier) if identifier in self._unchanged else None
        return TableVersion(identifier, known[1]) if known else None

    def current(self, identifier: tuple[str, str]) -> TableVersion:
        """The table's current version; QueryError 404 when it does not exist."""
        try:
            if isinstance(self.catalog, RestCatalog):
                table = self._load_conditionally(identifier)
            else:
                table = self.catalog.load_table(identifier)
        except (NoSuchTableError, NoSuchNamespaceError) as exc:
            raise QueryError(f"Table not found: {'.'.join(identifier)}", status=404) from exc
        return TableVersion(identifier, table)

    def _load_conditionally(self, identifier: tuple[str, str]) -> Table:
        catalog: RestCatalog = self.catalog  # type: ignore[assignment]
        with self._lock:
            known = self._known.get(identifier)
        headers = {"If-None-Match": known[0]} if known else {}
        url = catalog.url(Endpoints.load_table, prefixed=True, **catalog._split_identifier_for_path(identifier))
        if self._getter is None or self._getter.session is not catalog._session:
            self._getter = CatalogGetter(catalog._session)
        try:
            response = self._getter.get(url, {"snapshots": "refs"}, headers)
        except UNREACHABLE as exc:
            raise QueryError(f"The catalog is unreachable: {type(exc).__name__}", status=503) from exc
        if response.status == 304 and known:
            with self._lock:
                self._unchanged.add(identifier)
            return known[1]
        with self._lock:
            self._unchanged.discard(identifier)
        if response.status == 404:
            with self._lock:
                self._known.pop(identifier, None)
            raise NoSuchTableError(".".join(identifier))
        if response.status != 200:
            raise QueryError(
                f"The catalog answered {response.status} for {'.'.join(identifier)}: {response.text[:200]}",
                status=502,
            )
        table = catalog._response_to_table(identifier, TableResponse.model_validate_json(response.text))
        etag = response.etag
        if etag:
            with self._lock:
                self._known[identifier] = (etag, table)
        return table
