"""View operations: create, load, replace (commit), drop, rename, register.

A view is stored like a table: a row holding the location of its current metadata
file, swapped atomically by the store on every change.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pyiceberg.catalog.rest import CreateViewRequest
from pyiceberg.table.update import (
    AddSchemaUpdate,
    AssignUUIDUpdate,
    SetLocationUpdate,
    SetPropertiesUpdate,
    UpgradeFormatVersionUpdate,
)
from pyiceberg.view.metadata import ViewMetadata

from catalog.errors import BadRequestError
from catalog.metadata_files import MetadataFiles
from catalog.names import Identifier, validate_name, validate_namespace
from catalog.store import CatalogStore, ConcurrentCommitError, LocationSwap
from catalog.view_updates import (
    LAST_ADDED,
    AddViewVersionUpdate,
    AssertViewUUID,
    SetCurrentViewVersionUpdate,
    ViewUpdate,
    apply_view_updates,
)
from catalog.warehouse import Warehouse


@dataclass(frozen=True)
class LoadedView:
    """A view's current metadata location and metadata."""

    metadata_location: str
    metadata: ViewMetadata


def view_metadata_location(view_location: str, version: int) -> str:
    """Where version ``version`` of a view's metadata goes (same naming as tables)."""
    return f"{view_location.rstrip('/')}/metadata/{version:05d}-{uuid.uuid4()}.metadata.json"


def _version_of(metadata_location: str) -> int:
    name = metadata_location.rsplit("/", 1)[-1]
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


class ViewCatalog:
    """View operations of one warehouse."""

    def __init__(
        self, store: CatalogStore, files: MetadataFiles, warehouse: Warehouse, commit_retries: int = 10
    ) -> None:
        self.store = store
        self.files = files
        self.warehouse = warehouse
        self.commit_retries = commit_retries

    def list(self, namespace: Identifier, after: str | None = None, limit: int | None = None) -> list[str]:
        """View names in a namespace, ordered."""
        return self.store.list_objects(self.warehouse.name, namespace, "view", after, limit)

    def load(self, namespace: Identifier, name: str) -> LoadedView:
        """The view's current metadata (404 NoSuchView / NoSuchNamespace)."""
        stored = self.store.get_object(self.warehouse.name, namespace, name, "view")
        return LoadedView(stored.metadata_location, self.files.read_view(stored.metadata_location))

    def create(self, namespace: Identifier, request: CreateViewRequest) -> LoadedView:
        """Create a view from its first version."""
        validate_namespace(namespace)
        name = validate_name(request.name, "view name")
        self.store.require_name_free(self.warehouse.name, namespace, name)
        view_uuid = uuid.uuid4()
        location = self.warehouse.location_for(namespace, name, request.location, str(view_uuid))
        updates: list[ViewUpdate] = [
            AssignUUIDUpdate(uuid=view_uuid),
            UpgradeFormatVersionUpdate(format_version=1),
            AddSchemaUpdate(schema=request.view_schema),
            SetLocationUpdate(location=location),
            SetPropertiesUpdate(updates=dict(request.properties)),
            AddViewVersionUpdate(view_version=request.view_version.model_copy(update={"schema_id": LAST_ADDED})),
            SetCurrentViewVersionUpdate(view_version_id=LAST_ADDED),
        ]
        metadata = apply_view_updates(None, updates)
        metadata_location = view_metadata_location(location, 0)
        self.files.write_view(metadata, metadata_location)
        try:
            self.store.swap_locations(
                self.warehouse.name, [LocationSwap(namespace, name, None, metadata_location, kind="view")]
            )
        except Exception:
            self.files.delete_quietly(metadata_location)
            raise
        return LoadedView(metadata_location, metadata)

    def replace(
        self,
        namespace: Identifier,
        name: str,
        requirements: Sequence[AssertViewUUID],
        updates: Sequence[ViewUpdate],
    ) -> LoadedView:
        """Check requirements and apply updates (``CREATE OR REPLACE VIEW``), as one compare-and-swap."""
        for attempt in range(self.commit_retries + 1):
            current = self.load(namespace, name)
            for requirement in requirements:
                requirement.validate(current.metadata)
            for update in updates:
                if isinstance(update, SetLocationUpdate):
                    self.warehouse.check_location(update.location)
            metadata = apply_view_updates(current.metadata, updates)
            if metadata.view_uuid != current.metadata.view_uuid:
                raise BadRequestError("Cannot change the UUID of a view")
            new_location = view_metadata_location(metadata.location, _version_of(current.metadata_location) + 1)
            self.warehouse.check_location(new_location.rsplit("/", 1)[0])
            self.files.write_view(metadata, new_location)
            try:
                self.store.swap_locations(
                    self.warehouse.name,
                    [LocationSwap(namespace, name, current.metadata_location, new_location, kind="view")],
                )
            except ConcurrentCommitError:
                self.files.delete_quietly(new_location)
                if attempt == self.commit_retries:
                    raise
                continue
            except Exception:
                self.files.delete_quietly(new_location)
                raise
            return LoadedView(new_location, metadata)
        raise AssertionError("unreachable")

    def register(self, namespace: Identifier, name: str, metadata_location: str) -> LoadedView:
        """Register an existing view metadata file (inside the warehouse) under a name."""
        validate_name(name, "view name")
        self.warehouse.check_location(metadata_location.rsplit("/", 1)[0])
        metadata = self.files.read_view(metadata_location)
        self.store.swap_locations(
            self.warehouse.name, [LocationSwap(namespace, name, None, metadata_location, kind="view")]
        )
        return LoadedView(metadata_location, metadata)

    def drop(self, namespace: Identifier, name: str) -> None:
        """Drop a view (its metadata files stay, as with the reference implementation)."""
        self.store.drop_object(self.warehouse.name, namespace, name, "view")

    def rename(self, source: tuple[Identifier, str], destination: tuple[Identifier, str]) -> None:
        """Rename (or move to another namespace) a view."""
        validate_namespace(destination[0])
        validate_name(destination[1], "view name")
        self.store.rename_object(self.warehouse.name, source, destination, "view")
