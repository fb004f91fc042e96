"""The remote node, reached only as a third party would: its Iceberg REST API (PyIceberg) and its files."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests
from pydantic import SecretStr
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import (
    ForbiddenError,
    NoSuchNamespaceError,
    NoSuchTableError,
    OAuthError,
    RESTError,
    ServerError,
    ServiceUnavailableError,
    UnauthorizedError,
)
from pyiceberg.table import Table

from mirror.errors import MirrorConfigError, RemoteAccessError, RemoteUnavailableError

Identifier = tuple[str, ...]


@dataclass(frozen=True)
class RemoteTable:
    """One table of a mirrored remote namespace, as loaded now."""

    namespace: Identifier
    name: str
    table: Table

    @property
    def qualified(self) -> str:
        """``namespace.table`` on the remote."""
        return ".".join((*self.namespace, self.name))

    @property
    def uuid(self) -> str:
        """The remote table's UUID: what a mirror follows across renames."""
        return str(self.table.metadata.table_uuid)


@contextlib.contextmanager
def remote_errors(uri: str) -> Iterator[None]:
    """Turn PyIceberg's and requests' failures into MirrorErrors that say what to do (never a secret)."""
    try:
        yield
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise RemoteUnavailableError(f"The remote catalog at {uri} is unreachable ({type(exc).__name__})") from exc
    except OAuthError as exc:
        raise RemoteAccessError(f"The remote catalog at {uri} refused the credential: {exc}") from exc
    except UnauthorizedError as exc:
        raise RemoteAccessError(
            f"The remote catalog at {uri} requires authentication; pass --credential client_id:secret"
        ) from exc
    except ForbiddenError as exc:
        raise RemoteAccessError(f"The remote catalog at {uri} forbids this: {exc}") from exc
    except (ServiceUnavailableError, ServerError) as exc:
        raise RemoteUnavailableError(f"The remote catalog at {uri} is failing: {exc}") from exc
    except RESTError as exc:
        raise RemoteUnavailableError(f"The remote catalog at {uri} answered with an error: {exc}") from exc


def connect(uri: str, warehouse: str | None, credential: SecretStr | None, name: str = "remote") -> Catalog:
    """A PyIceberg RestCatalog on the remote node (fails clearly when unreachable or refused)."""
    if not uri.startswith(("http://", "https://")):
        raise MirrorConfigError(f"The remote must be an http(s) URI of an Iceberg REST catalog, got {uri!r}")
    properties = {"type": "rest", "uri": uri.rstrip("/")}
    if warehouse:
        properties["warehouse"] = warehouse
    if credential is not None:
        properties["credential"] = credential.get_secret_value()
    with remote_errors(uri):
        return load_catalog(f"mirror-{name}", **properties)


def list_remote_tables(catalog: Catalog, uri: str, namespaces: tuple[Identifier, ...]) -> list[RemoteTable]:
    """Every table of the given remote namespaces, loaded (a table dropped while listing is skipped)."""
    tables: list[RemoteTable] = []
    with remote_errors(uri):
        for namespace in namespaces:
            try:
                identifiers = catalog.list_tables(namespace)
            except NoSuchNamespaceError as exc:
                raise MirrorConfigError(f"The remote has no namespace {'.'.join(namespace)!r}") from exc
            for identifier, table in load_tables(catalog, sorted(identifiers)):
                tables.append(RemoteTable(tuple(identifier[:-1]), identifier[-1], table))
    return tables


def load_tables(catalog: Catalog, identifiers: list[Identifier], workers: int = 4) -> list[tuple[Identifier, Table]]:
    """Load tables a few at a time (each load is a round trip); one dropped meanwhile is left out."""

    def load(identifier: Identifier) -> Table | None:
        try:
            return catalog.load_table(identifier)
        except NoSuchTableError:
            return None  # dropped between listing and loading: it is gone

    if len(identifiers) <= 1:
        loaded = [load(i) for i in identifiers]
    else:
        with ThreadPoolExecutor(max_workers=min(workers, len(identifiers)), thread_name_prefix="mirror-load") as pool:
            loaded = list(pool.map(load, identifiers))
    return [(tuple(i), t) for i, t in zip(identifiers, loaded, strict=True) if t is not None]


def check_namespaces(catalog: Catalog, uri: str, namespaces: tuple[Identifier, ...]) -> None:
    """Raise unless every namespace exists on the remote (and we may list it)."""
    with remote_errors(uri):
        for namespace in namespaces:
            try:
                catalog.list_tables(namespace)
            except NoSuchNamespaceError as exc:
                raise MirrorConfigError(f"The remote has no namespace {'.'.join(namespace)!r}") from exc
