"""``POST /v1/{prefix}/transactions/commit`` and ``POST /v1/{prefix}/tables/rename``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from pydantic import Field
from pyiceberg.table import CommitTableRequest, TableIdentifier
from pyiceberg.typedef import IcebergBaseModel

from catalog.context import CatalogContext, get_context
from catalog.errors import BadRequestError
from catalog.names import validate_name, validate_namespace
from catalog.request_models import BadInputIs400

router = APIRouter(prefix="/v1/{prefix}", tags=["Catalog API"])


class CommitTransactionRequest(IcebergBaseModel, BadInputIs400):
    table_changes: list[CommitTableRequest] = Field(alias="table-changes")


class RenameTableRequest(IcebergBaseModel, BadInputIs400):
    source: TableIdentifier
    destination: TableIdentifier


@router.post("/transactions/commit", status_code=204)
def commit_transaction(
    prefix: str, body: CommitTransactionRequest, ctx: CatalogContext = Depends(get_context)
) -> Response:
    """Commit changes to several tables: all of them or none."""
    if not body.table_changes:
        raise BadRequestError("A transaction needs at least one table change")
    ctx.tables(prefix).commit_transaction(body.table_changes)
    return Response(status_code=204)


@router.post("/tables/rename", status_code=204)
def rename_table(prefix: str, body: RenameTableRequest, ctx: CatalogContext = Depends(get_context)) -> Response:
    """Rename a table, possibly into another namespace."""
    src = (validate_namespace(body.source.namespace.root), validate_name(body.source.name, "table name"))
    dst = (validate_namespace(body.destination.namespace.root), validate_name(body.destination.name, "table name"))
    ctx.tables(prefix).rename(src, dst)
    return Response(status_code=204)
