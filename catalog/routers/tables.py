"""Table routes: list, create (and stage-create), load, exists, commit, drop, register, metrics."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from pydantic import Field
from pyiceberg.catalog.rest import CreateTableRequest as PyIcebergCreateTableRequest
from pyiceberg.catalog.rest import RegisterTableRequest as PyIcebergRegisterTableRequest
from pyiceberg.partitioning import PartitionSpec
from pyiceberg.table import TableIdentifier
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.table.sorting import SortOrder
from pyiceberg.table.update import TableRequirement, TableUpdate
from pyiceberg.typedef import IcebergBaseModel

from catalog.context import CatalogContext, get_context, may_see_secrets
from catalog.errors import BadRequestError
from catalog.load_table_path import load_table_response
from catalog.names import display, parse_name, parse_namespace
from catalog.pagination import identifiers_page
from catalog.request_models import BadInputIs400
from catalog.responses import metadata_result

router = APIRouter(prefix="/v1/{prefix}/namespaces/{namespace}", tags=["Catalog API"])


class CreateTableRequest(PyIcebergCreateTableRequest, BadInputIs400):
    """PyIceberg's request model, with the fields the spec marks optional defaulted."""

    location: str | None = Field(default=None)
    partition_spec: PartitionSpec | None = Field(alias="partition-spec", default=None)
    write_order: SortOrder | None = Field(alias="write-order", default=None)


class RegisterTableRequest(PyIcebergRegisterTableRequest, BadInputIs400):
    overwrite: bool = False


class UpdateTableRequest(IcebergBaseModel, BadInputIs400):
    """CommitTableRequest of a single-table commit: the identifier is optional there."""

    identifier: TableIdentifier | None = None
    requirements: tuple[TableRequirement, ...] = Field(default_factory=tuple)
    updates: tuple[TableUpdate, ...] = Field(default_factory=tuple)


def load_result(location: str | None, metadata: TableMetadata, config: dict[str, str]) -> Response:
    """A LoadTableResult (or CommitTableResponse) body."""
    body = metadata_result(location, metadata.model_dump_json().encode(), config)
    return Response(content=body, media_type="application/json")


@router.get("/tables")
def list_tables(
    prefix: str,
    namespace: str,
    page_token: str | None = Query(default=None, alias="pageToken"),
    page_size: int | None = Query(default=None, alias="pageSize"),
    ctx: CatalogContext = Depends(get_context),
) -> dict:
    """Tables of a namespace, paginated by a stable token."""
    ns = parse_namespace(namespace)
    objects = ctx.tables(prefix)
    return identifiers_page(ns, page_token, page_size, lambda after, limit: objects.list(ns, after, limit))


@router.post("/tables")
def create_table(
    prefix: str, namespace: str, body: CreateTableRequest, ctx: CatalogContext = Depends(get_context)
) -> Response:
    """Create a table, or stage it (``stage-create``) for a later ``assert-create`` commit."""
    tables = ctx.tables(prefix)
    location, metadata = tables.create(parse_namespace(namespace), body)
    return load_result(location, metadata, tables.warehouse.client_config())


@router.get("/tables/{table}/credentials")
def load_credentials(
    prefix: str, namespace: str, table: str, request: Request, ctx: CatalogContext = Depends(get_context)
) -> dict:
    """Storage credentials for the table's files (none for anonymous callers or a local warehouse)."""
    tables = ctx.tables(prefix)
    tables.current_location(parse_namespace(namespace), parse_name(table))
    credentials = tables.warehouse.storage_credentials() if may_see_secrets(request) else []
    return {"storage-credentials": credentials}


@router.get("/tables/{table}")
def load_table(
    prefix: str,
    namespace: str,
    table: str,
    request: Request,
    snapshots: Literal["all", "refs"] = "all",
    if_none_match: str | None = Header(default=None),
    ctx: CatalogContext = Depends(get_context),
) -> Response:
    """The table's current metadata; 304 when the client's ETag is still current.

    Plain requests are answered by :class:`catalog.load_table_path.LoadTableFastPath` before
    they reach FastAPI; this route documents the call and serves the rest, the same way.
    """
    status, body, etag = load_table_response(
        ctx, prefix, namespace, table, snapshots, if_none_match, may_see_secrets(request)
    )
    if status == 304:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(content=body, media_type="application/json", headers={"ETag": etag})


@router.head("/tables/{table}", status_code=204)
def table_exists(prefix: str, namespace: str, table: str, ctx: CatalogContext = Depends(get_context)) -> Response:
    """204 when the table exists, 404 otherwise."""
    ctx.tables(prefix).current_location(parse_namespace(namespace), parse_name(table))
    return Response(status_code=204)


def commit_table_response(
    ctx: CatalogContext, prefix: str, namespace: str, table: str, body: UpdateTableRequest
) -> bytes:
    """Commit one table's requirements and updates; the CommitTableResponse body."""
    ns, name = parse_namespace(namespace), parse_name(table)
    if body.identifier is not None and (tuple(body.identifier.namespace.root), body.identifier.name) != (ns, name):
        raise BadRequestError(f"Identifier in the body does not match the path: {display(ns, name)}")
    location, _ = ctx.tables(prefix).commit_table(ns, name, body.requirements, body.updates)
    return ctx.files.commit_response(location)


@router.post("/tables/{table}")
def commit_table(
    prefix: str,
    namespace: str,
    table: str,
    body: UpdateTableRequest,
    ctx: CatalogContext = Depends(get_context),
) -> Response:
    """Check the requirements and apply the updates atomically (409 on conflict).

    Plain requests are answered by :class:`catalog.commit_table_path.CommitTableFastPath`
    before they reach FastAPI; this route documents the call and serves the rest, the same way.
    """
    content = commit_table_response(ctx, prefix, namespace, table, body)
    return Response(content=content, media_type="application/json")


@router.delete("/tables/{table}", status_code=204)
def drop_table(
    prefix: str,
    namespace: str,
    table: str,
    purge_requested: bool = Query(default=False, alias="purgeRequested"),
    ctx: CatalogContext = Depends(get_context),
) -> Response:
    """Drop a table; ``purgeRequested=true`` also deletes its files."""
    ctx.tables(prefix).drop(parse_namespace(namespace), parse_name(table), purge_requested)
    return Response(status_code=204)


@router.post("/register")
def register_table(
    prefix: str, namespace: str, body: RegisterTableRequest, ctx: CatalogContext = Depends(get_context)
) -> Response:
    """Register an existing metadata file as a table."""
    tables = ctx.tables(prefix)
    location, metadata = tables.register(parse_namespace(namespace), body)
    return load_result(location, metadata, tables.warehouse.client_config())


@router.post("/tables/{table}/metrics", status_code=204)
def report_metrics(
    prefix: str,
    namespace: str,
    table: str,
    body: dict[str, Any] = Body(...),
    ctx: CatalogContext = Depends(get_context),
) -> Response:
    """Accept a scan or commit metrics report (Spark and Java clients send them)."""
    ctx.tables(prefix).current_location(parse_namespace(namespace), parse_name(table))
    if "report-type" not in body and "table-name" not in body:
        raise BadRequestError("Invalid metrics report: missing report-type")
    return Response(status_code=204)
