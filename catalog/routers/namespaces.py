"""Namespace routes: list, create, load, exists, drop, update properties."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from catalog.context import CatalogContext, get_context
from catalog.errors import UnprocessableEntityError
from catalog.names import decode_segment, namespace_key, parse_namespace, validate_namespace
from catalog.pagination import check_page_size, decode_token, encode_token

router = APIRouter(prefix="/v1/{prefix}/namespaces", tags=["Catalog API"])


class CreateNamespaceRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespace: list[str]
    properties: dict[str, str] = Field(default_factory=dict)


class UpdateNamespacePropertiesRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    removals: list[str] = Field(default_factory=list)
    updates: dict[str, str] = Field(default_factory=dict)


@router.get("")
def list_namespaces(
    prefix: str,
    parent: str | None = None,
    page_token: str | None = Query(default=None, alias="pageToken"),
    page_size: int | None = Query(default=None, alias="pageSize"),
    ctx: CatalogContext = Depends(get_context),
) -> dict:
    """Direct children of ``parent`` (or top-level namespaces), paginated by a stable token."""
    wh = ctx.warehouse(decode_segment(prefix))
    parent_ns = parse_namespace(parent) if parent else ()
    size = check_page_size(page_size)
    after = decode_token(page_token)
    children = ctx.store.list_namespaces(wh.name, parent_ns, after=after)
    next_token = None
    if size is not None and len(children) > size:
        children = children[:size]
        next_token = encode_token(namespace_key(children[-1]))
    return {"namespaces": [list(ns) for ns in children], "next-page-token": next_token}


@router.post("")
def create_namespace(prefix: str, body: CreateNamespaceRequest, ctx: CatalogContext = Depends(get_context)) -> dict:
    """Create a namespace with properties."""
    wh = ctx.warehouse(decode_segment(prefix))
    namespace = validate_namespace(body.namespace)
    ctx.store.create_namespace(wh.name, namespace, body.properties)
    return {"namespace": list(namespace), "properties": body.properties}


@router.get("/{namespace}")
def load_namespace(prefix: str, namespace: str, ctx: CatalogContext = Depends(get_context)) -> dict:
    """A namespace and its properties."""
    wh = ctx.warehouse(decode_segment(prefix))
    ns = parse_namespace(namespace)
    return {"namespace": list(ns), "properties": ctx.store.load_namespace_properties(wh.name, ns)}


@router.head("/{namespace}", status_code=204)
def namespace_exists(prefix: str, namespace: str, ctx: CatalogContext = Depends(get_context)) -> Response:
    """204 when the namespace exists, 404 otherwise."""
    wh = ctx.warehouse(decode_segment(prefix))
    ctx.store.load_namespace_properties(wh.name, parse_namespace(namespace))
    return Response(status_code=204)


@router.delete("/{namespace}", status_code=204)
def drop_namespace(prefix: str, namespace: str, ctx: CatalogContext = Depends(get_context)) -> Response:
    """Drop an empty namespace (409 when it holds tables, views or namespaces)."""
    wh = ctx.warehouse(decode_segment(prefix))
    ctx.store.drop_namespace(wh.name, parse_namespace(namespace))
    return Response(status_code=204)


@router.post("/{namespace}/properties")
def update_properties(
    prefix: str,
    namespace: str,
    body: UpdateNamespacePropertiesRequest,
    ctx: CatalogContext = Depends(get_context),
) -> dict:
    """Set and remove properties; 422 when a key is both set and removed."""
    wh = ctx.warehouse(decode_segment(prefix))
    ns = parse_namespace(namespace)
    overlap = set(body.removals) & set(body.updates)
    if overlap:
        raise UnprocessableEntityError(f"Keys both updated and removed: {sorted(overlap)}")
    updated, removed, missing = ctx.store.update_namespace_properties(wh.name, ns, body.removals, body.updates)
    return {"updated": updated, "removed": removed, "missing": missing}
