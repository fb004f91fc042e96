"""A warehouse: a named root location in an object store, and the rules for locations in it."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from urllib.parse import quote

from catalog.errors import BadRequestError, ForbiddenError
from catalog.names import Identifier

SECRET_FILEIO_KEYS = frozenset({"s3.access-key-id", "s3.secret-access-key", "s3.session-token"})


@dataclass(frozen=True)
class Warehouse:
    """One warehouse served by the catalog (the REST ``prefix``)."""

    name: str
    location: str
    fileio_properties: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> str:
        """The warehouse location without a trailing slash."""
        return self.location.rstrip("/")

    def default_table_location(self, namespace: Identifier, name: str, unique_suffix: str) -> str:
        """Where a new table or view lives: ``<root>/<ns>/.../<name>-<suffix>``.

        The suffix keeps a new table from sharing files with a dropped one of the same
        name, so purging the old one can never delete the new one's files.
        """
        parts = [quote(level, safe="") for level in namespace] + [f"{quote(name, safe='')}-{unique_suffix}"]
        return "/".join([self.root, *parts])

    def location_for(self, namespace: Identifier, name: str, requested: str | None, object_uuid: str) -> str:
        """A new table's or view's location: the requested one (checked) or a fresh default."""
        if requested:
            return self.check_location(requested)
        return self.default_table_location(namespace, name, object_uuid.replace("-", "")[:8])

    def check_location(self, location: str) -> str:
        """Reject locations that would escape the warehouse; returns the normalized location."""
        location = location.rstrip("/")
        scheme, sep, path = location.partition("://")
        root_scheme, _, root_path = self.root.partition("://")
        if not sep or scheme != root_scheme:
            raise BadRequestError(f"Location {location!r} is not in warehouse {self.name!r} ({self.root})")
        normalized = posixpath.normpath(path) if path else path
        if path.startswith("//"):
            normalized = "/" + normalized.lstrip("/")
        if ".." in path.split("/") or not (normalized == root_path or normalized.startswith(root_path + "/")):
            raise ForbiddenError(f"Location {location!r} is outside warehouse {self.name!r} ({self.root})")
        return f"{scheme}://{normalized}"

    def contains(self, location: str) -> bool:
        """True when ``location`` is inside this warehouse (what the catalog may delete)."""
        try:
            self.check_location(location)
        except (BadRequestError, ForbiddenError):
            return False
        return True

    def client_config(self, include_secrets: bool = True) -> dict[str, str]:
        """FileIO properties a client needs to read and write this warehouse's files.

        Without ``include_secrets`` (anonymous callers) only the non-secret ones: endpoint,
        region, addressing style.
        """
        if include_secrets:
            return dict(self.fileio_properties)
        return {k: v for k, v in self.fileio_properties.items() if k not in SECRET_FILEIO_KEYS}

    def storage_credentials(self) -> list[dict[str, object]]:
        """The spec's StorageCredential list for this warehouse (empty when it needs none)."""
        secret = {k: v for k, v in self.fileio_properties.items() if k in SECRET_FILEIO_KEYS}
        return [{"prefix": self.root, "config": self.client_config()}] if secret else []
