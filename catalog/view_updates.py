"""Applying view changes (the spec's ViewUpdate actions) to PyIceberg's ViewMetadata model.

PyIceberg models view metadata but has no update logic for views (it has one only for
tables), so this module is the small piece written by hand. It follows the Java
reference (``ViewMetadata.Builder``): schemas and versions are deduplicated, ``-1``
means "the one added last in this commit", and the version log and history limit are
kept as the spec describes. The update models shared with tables are PyIceberg's own.
"""

from __future__ import annotations

import time
from functools import singledispatch
from typing import Annotated, Literal

from pydantic import Field
from pyiceberg.table.update import (
    AddSchemaUpdate,
    AssignUUIDUpdate,
    RemovePropertiesUpdate,
    SetLocationUpdate,
    SetPropertiesUpdate,
    UpgradeFormatVersionUpdate,
)
from pyiceberg.typedef import IcebergBaseModel
from pyiceberg.view.metadata import ViewHistoryEntry, ViewMetadata, ViewVersion

from catalog.errors import BadRequestError, CommitFailedError

LAST_ADDED = -1
HISTORY_SIZE_PROPERTY = "version.history.num-entries"
DEFAULT_HISTORY_SIZE = 10


class AddViewVersionUpdate(IcebergBaseModel):
    action: Literal["add-view-version"] = Field(default="add-view-version")
    view_version: ViewVersion = Field(alias="view-version")


class SetCurrentViewVersionUpdate(IcebergBaseModel):
    action: Literal["set-current-view-version"] = Field(default="set-current-view-version")
    view_version_id: int = Field(alias="view-version-id")


class AssertViewUUID(IcebergBaseModel):
    """The only view requirement: the view's UUID must match."""

    type: Literal["assert-view-uuid"] = Field(default="assert-view-uuid")
    uuid: str

    def validate(self, base: ViewMetadata) -> None:
        """Raise CommitFailedError when the view was replaced by another with the same name."""
        if base.view_uuid != self.uuid:
            raise CommitFailedError(f"Requirement failed: view UUID does not match: {self.uuid} != {base.view_uuid}")


ViewUpdate = Annotated[
    AssignUUIDUpdate
    | UpgradeFormatVersionUpdate
    | AddSchemaUpdate
    | SetLocationUpdate
    | SetPropertiesUpdate
    | RemovePropertiesUpdate
    | AddViewVersionUpdate
    | SetCurrentViewVersionUpdate,
    Field(discriminator="action"),
]

ViewRequirement = Annotated[AssertViewUUID, Field(discriminator="type")]


class _Builder:
    """Mutable working copy of view metadata during one commit."""

    def __init__(self, base: ViewMetadata | None) -> None:
        self.uuid = base.view_uuid if base else None
        self.location = base.location if base else None
        self.schemas = list(base.schemas) if base else []
        self.versions = list(base.versions) if base else []
        self.version_log = list(base.version_log) if base else []
        self.properties = dict(base.properties) if base else {}
        self.current_version_id = base.current_version_id if base else None
        self.last_added_schema_id: int | None = None
        self.last_added_version_id: int | None = None
        self.is_create = base is None

    def build(self) -> ViewMetadata:
        if self.uuid is None:
            raise BadRequestError("Invalid view: no UUID assigned")
        if self.location is None:
            raise BadRequestError("Invalid view: no location")
        if self.current_version_id is None:
            raise BadRequestError("Invalid view: no current version")
        versions = self._trimmed_versions()
        return ViewMetadata.model_validate(
            {
                "view-uuid": self.uuid,
                "format-version": 1,
                "location": self.location,
                "schemas": [s.model_dump(by_alias=True) for s in self.schemas],
                "current-version-id": self.current_version_id,
                "versions": [v.model_dump(by_alias=True) for v in versions],
                "version-log": [e.model_dump(by_alias=True) for e in self.version_log],
                "properties": self.properties,
            }
        )

    def _trimmed_versions(self) -> list[ViewVersion]:
        try:
            keep = max(1, int(self.properties.get(HISTORY_SIZE_PROPERTY, DEFAULT_HISTORY_SIZE)))
        except ValueError as exc:
            raise BadRequestError(f"Invalid {HISTORY_SIZE_PROPERTY}: must be an integer") from exc
        if len(self.versions) <= keep:
            return self.versions
        newest = sorted(self.versions, key=lambda v: v.version_id)[-keep:]
        kept_ids = {v.version_id for v in newest} | {self.current_version_id}
        self.version_log = [e for e in self.version_log if e.version_id in kept_ids]
        return [v for v in self.versions if v.version_id in kept_ids]


@singledispatch
def _apply(update: object, builder: _Builder) -> None:
    raise BadRequestError(f"Unsupported view update: {type(update).__name__}")


@_apply.register
def _(update: AssignUUIDUpdate, builder: _Builder) -> None:
    if builder.uuid is not None and builder.uuid != str(update.uuid):
        raise BadRequestError("Cannot reassign the UUID of an existing view")
    builder.uuid = str(update.uuid)


@_apply.register
def _(update: UpgradeFormatVersionUpdate, builder: _Builder) -> None:
    if update.format_version != 1:
        raise BadRequestError(f"Unsupported view format version: {update.format_version}")


@_apply.register
def _(update: AddSchemaUpdate, builder: _Builder) -> None:
    for existing in builder.schemas:
        if (
            existing.fields == update.schema_.fields
            and existing.identifier_field_ids == update.schema_.identifier_field_ids
        ):
            builder.last_added_schema_id = existing.schema_id
            return
    new_id = max((s.schema_id for s in builder.schemas), default=-1) + 1
    builder.schemas.append(update.schema_.model_copy(update={"schema_id": new_id}))
    builder.last_added_schema_id = new_id


@_apply.register
def _(update: SetLocationUpdate, builder: _Builder) -> None:
    builder.location = update.location.rstrip("/")


@_apply.register
def _(update: SetPropertiesUpdate, builder: _Builder) -> None:
    builder.properties.update(update.updates)


@_apply.register
def _(update: RemovePropertiesUpdate, builder: _Builder) -> None:
    for key in update.removals:
        builder.properties.pop(key, None)


@_apply.register
def _(update: AddViewVersionUpdate, builder: _Builder) -> None:
    version = update.view_version
    schema_id = version.schema_id
    if schema_id == LAST_ADDED:
        if builder.last_added_schema_id is None:
            raise BadRequestError("Cannot use schema-id -1: no schema was added in this commit")
        schema_id = builder.last_added_schema_id
    if schema_id not in {s.schema_id for s in builder.schemas}:
        raise BadRequestError(f"View version refers to unknown schema {schema_id}")
    dialects = [r.root.dialect.lower() for r in version.representations]
    if len(dialects) != len(set(dialects)):
        raise BadRequestError("A view version may have only one SQL representation per dialect")
    candidate = version.model_copy(update={"schema_id": schema_id})
    for existing in builder.versions:
        if _same_version(existing, candidate):
            builder.last_added_version_id = existing.version_id
            return
    new_id = max((v.version_id for v in builder.versions), default=0) + 1
    builder.versions.append(candidate.model_copy(update={"version_id": new_id}))
    builder.last_added_version_id = new_id


@_apply.register
def _(update: SetCurrentViewVersionUpdate, builder: _Builder) -> None:
    version_id = update.view_version_id
    if version_id == LAST_ADDED:
        if builder.last_added_version_id is None:
            raise BadRequestError("Cannot set the current version to -1: no version was added in this commit")
        version_id = builder.last_added_version_id
    version = next((v for v in builder.versions if v.version_id == version_id), None)
    if version is None:
        raise BadRequestError(f"Cannot set current view version to unknown version {version_id}")
    if builder.current_version_id == version_id:
        return
    builder.current_version_id = version_id
    builder.version_log.append(ViewHistoryEntry.model_validate({"timestamp-ms": _now_ms(), "version-id": version_id}))


def _same_version(a: ViewVersion, b: ViewVersion) -> bool:
    """Versions are the same when all but their id and timestamp match."""
    return (
        a.schema_id == b.schema_id
        and a.summary == b.summary
        and a.representations == b.representations
        and a.default_catalog == b.default_catalog
        and tuple(a.default_namespace) == tuple(b.default_namespace)
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def apply_view_updates(base: ViewMetadata | None, updates: tuple[ViewUpdate, ...] | list[ViewUpdate]) -> ViewMetadata:
    """New view metadata: ``base`` (None when creating) with every update applied in order."""
    builder = _Builder(base)
    for update in updates:
        _apply(update, builder)
    return builder.build()
