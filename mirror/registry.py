"""The mirrors a node has: their configuration, kept as properties of each mirror's namespace ``NAME``.

``mirror add`` creates the namespace ``NAME`` (holding the remote URI, mode, namespaces and
the encrypted credential) and one child ``NAME.<namespace>`` per mirrored namespace. The
local catalog is reached over its REST API like by any other client.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import requests
from pydantic import SecretStr
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import NamespaceAlreadyExistsError, NoSuchNamespaceError, RESTError

from commonlake.settings import Settings
from mirror import properties as p
from mirror.credentials import CredentialBox
from mirror.errors import MirrorConfigError, MirrorError
from mirror.remote import Identifier, check_namespaces, connect

Mode = Literal["register", "copy"]
MODES: tuple[Mode, ...] = ("register", "copy")
# A mirror's name is a namespace every engine can spell unquoted (DuckDB, Spark, the gateway).
NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class MirrorConfig:
    """One mirror: where it reads from, how, and which namespaces."""

    name: str
    remote_uri: str
    mode: Mode
    namespaces: tuple[Identifier, ...]
    remote_warehouse: str | None = None
    credential: SecretStr | None = field(default=None, repr=False)
    credential_stored: bool = False
    created_at_ms: int | None = None
    last_refresh: dict[str, Any] | None = None

    @property
    def namespace(self) -> Identifier:
        """The local namespace holding the mirror (its name)."""
        return (self.name,)

    def local_namespace(self, remote_namespace: Identifier) -> Identifier:
        """Where a remote namespace's tables appear locally: ``NAME.<namespace>``."""
        return (self.name, *remote_namespace)

    @property
    def source_node(self) -> str:
        """The remote node as recorded in provenance: its catalog URI."""
        return self.remote_uri

    def remote_catalog(self) -> Catalog:
        """A PyIceberg client on the remote catalog, with this mirror's credential."""
        return connect(self.remote_uri, self.remote_warehouse, self.credential, self.name)


def validate_name(name: str) -> str:
    """A mirror name: lower-case letters, digits and underscores, starting with a letter."""
    if not NAME_PATTERN.match(name):
        raise MirrorConfigError(
            f"Invalid mirror name {name!r}: use lower-case letters, digits and '_', starting with a letter"
        )
    return name


def parse_namespaces(spec: str | list[str] | tuple[str, ...]) -> tuple[Identifier, ...]:
    """``"marts,raw"`` (or a list) as namespace identifiers; a dotted name is a nested namespace."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    namespaces: list[Identifier] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        levels = tuple(item.split("."))
        if any(not level for level in levels):
            raise MirrorConfigError(f"Invalid namespace {item!r}")
        if levels not in namespaces:
            namespaces.append(levels)
    if not namespaces:
        raise MirrorConfigError("Name at least one remote namespace to mirror, e.g. --namespaces marts,raw")
    return tuple(namespaces)


def local_catalog(settings: Settings) -> Catalog:
    """A PyIceberg client on this node's catalog server."""
    with local_errors(settings):
        return load_catalog("commonlake", **settings.rest_catalog_properties())


@contextlib.contextmanager
def local_errors(settings: Settings) -> Iterator[None]:
    """A clear error when this node's own catalog is down."""
    try:
        yield
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise MirrorError(
            f"This node's catalog at {settings.catalog_uri} is unreachable; start it with `commonlake serve catalog`"
        ) from exc


def add_mirror(
    settings: Settings,
    name: str,
    remote_uri: str,
    namespaces: str | list[str] | tuple[str, ...],
    mode: str = "copy",
    credential: str | SecretStr | None = None,
    remote_warehouse: str | None = None,
    catalog: Catalog | None = None,
) -> MirrorConfig:
    """Check the remote and record a new mirror in the local catalog (no data moves yet: refresh does that)."""
    validate_name(name)
    if mode not in MODES:
        raise MirrorConfigError(f"Unknown mode {mode!r}; use one of {', '.join(MODES)}")
    secret = SecretStr(credential) if isinstance(credential, str) else credential
    # A credential given in settings (COMMONLAKE_MIRROR__CREDENTIALS) is used, never stored.
    stored = secret is not None
    secret = secret if secret is not None else settings.mirror.credentials.get(name)
    config = MirrorConfig(
        name=name,
        remote_uri=remote_uri.rstrip("/"),
        mode=mode,  # type: ignore[arg-type]
        namespaces=parse_namespaces(namespaces),
        remote_warehouse=remote_warehouse or None,
        credential=secret,
        credential_stored=stored,
        created_at_ms=int(time.time() * 1000),
    )
    check_namespaces(config.remote_catalog(), config.remote_uri, config.namespaces)
    catalog = catalog or local_catalog(settings)
    props = {
        p.REMOTE_URI: config.remote_uri,
        p.MODE: config.mode,
        p.NAMESPACES: ",".join(".".join(ns) for ns in config.namespaces),
        p.CREATED_AT: str(config.created_at_ms),
    }
    if config.remote_warehouse:
        props[p.REMOTE_WAREHOUSE] = config.remote_warehouse
    if stored and secret is not None:
        props[p.CREDENTIAL] = CredentialBox.for_settings(settings).seal(secret)
    with local_errors(settings):
        try:
            catalog.create_namespace(config.namespace, props)
        except NamespaceAlreadyExistsError as exc:
            raise MirrorConfigError(
                f"Namespace {name!r} already exists on this node; choose another mirror name"
                + (" (it is a mirror: remove it first to change it)" if _is_mirror(catalog, name) else "")
            ) from exc
        for namespace in config.namespaces:
            ensure_namespace(catalog, config.local_namespace(namespace), {p.SOURCE_NAMESPACE: ".".join(namespace)})
    return config


def ensure_namespace(catalog: Catalog, namespace: Identifier, properties: dict[str, str] | None = None) -> None:
    """Create a (nested) namespace and its missing parents."""
    for depth in range(1, len(namespace) + 1):
        with contextlib.suppress(NamespaceAlreadyExistsError):
            catalog.create_namespace(namespace[:depth], (properties or {}) if depth == len(namespace) else {})


def _is_mirror(catalog: Catalog, name: str) -> bool:
    try:
        return p.MODE in catalog.load_namespace_properties((name,))
    except (NoSuchNamespaceError, RESTError):
        return False


def config_from_properties(name: str, props: dict[str, str], settings: Settings) -> MirrorConfig:
    """A MirrorConfig from the namespace's properties; the credential decrypted (settings may override it)."""
    stored = props.get(p.CREDENTIAL)
    credential = settings.mirror.credentials.get(name)
    if credential is None and stored:
        credential = CredentialBox.for_settings(settings).open(stored, name)
    last = props.get(p.LAST_REFRESH)
    return MirrorConfig(
        name=name,
        remote_uri=props[p.REMOTE_URI],
        mode=props[p.MODE],  # type: ignore[arg-type]
        namespaces=parse_namespaces(props[p.NAMESPACES]),
        remote_warehouse=props.get(p.REMOTE_WAREHOUSE) or None,
        credential=credential,
        credential_stored=bool(stored),
        created_at_ms=int(props[p.CREATED_AT]) if props.get(p.CREATED_AT) else None,
        last_refresh=json.loads(last) if last else None,
    )


def get_mirror(settings: Settings, name: str, catalog: Catalog | None = None) -> MirrorConfig:
    """The mirror named so; a clear error when there is none."""
    catalog = catalog or local_catalog(settings)
    with local_errors(settings):
        try:
            props = catalog.load_namespace_properties((name,))
        except NoSuchNamespaceError as exc:
            raise MirrorConfigError(f"No mirror named {name!r} on this node (see `commonlake mirror list`)") from exc
    if p.MODE not in props:
        raise MirrorConfigError(f"Namespace {name!r} is not a mirror")
    return config_from_properties(name, props, settings)


def list_mirrors(settings: Settings, catalog: Catalog | None = None) -> list[MirrorConfig]:
    """Every mirror of this node, by name."""
    catalog = catalog or local_catalog(settings)
    mirrors = []
    with local_errors(settings):
        for namespace in catalog.list_namespaces():
            props = catalog.load_namespace_properties(namespace)
            if p.MODE in props and p.REMOTE_URI in props:
                mirrors.append(config_from_properties(namespace[0], props, settings))
    return sorted(mirrors, key=lambda m: m.name)


def record_refresh(catalog: Catalog, name: str, summary: dict[str, Any]) -> None:
    """Remember the outcome of the last refresh on the mirror's namespace."""
    catalog.update_namespace_properties((name,), updates={p.LAST_REFRESH: json.dumps(summary, sort_keys=True)})


def remove_mirror(settings: Settings, name: str, catalog: Catalog | None = None) -> list[str]:
    """Drop the mirror's tables (their local copies purged; never the remote's files) and namespaces.

    Returns the dropped tables. A table someone else created in a mirror namespace stops the
    removal with a clear error rather than being dropped with the mirror.
    """
    catalog = catalog or local_catalog(settings)
    config = get_mirror(settings, name, catalog)
    dropped: list[str] = []
    with local_errors(settings):
        namespaces = _descendants(catalog, config.namespace)
        for namespace in namespaces:
            for identifier in catalog.list_tables(namespace):
                table = catalog.load_table(identifier)
                if table.properties.get(p.MIRROR_NAME) != name:
                    raise MirrorConfigError(
                        f"{'.'.join(identifier)} is not a table of mirror {name!r}; move or drop it, then remove again"
                    )
                # The catalog purges only files inside this node's warehouse: in register mode
                # that is the derived metadata, never the remote's data.
                catalog.purge_table(identifier)
                dropped.append(".".join(identifier))
        for namespace in sorted(namespaces, key=len, reverse=True):
            catalog.drop_namespace(namespace)
    return dropped


def _descendants(catalog: Catalog, namespace: Identifier) -> list[Identifier]:
    found = [namespace]
    for child in catalog.list_namespaces(namespace):
        found += _descendants(catalog, tuple(child))
    return found
