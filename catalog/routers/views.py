"""View routes: list, create, load, replace, drop, exists, rename, register-view."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field
from pyiceberg.catalog.rest import CreateViewRequest as PyIcebergCreateViewRequest
from pyiceberg.catalog.rest import RegisterViewRequest
from pyiceberg.table import TableIdentifier
from pyiceberg.typedef import IcebergBaseModel

from catalog.context import CatalogContext, get_context, may_see_secrets
from catalog.errors import BadRequestError
from catalog.names import display, parse_name, parse_namespace, validate_name, validate_namespace
from catalog.pagination import identifiers_page
from catalog.request_models import BadInputIs400
from catalog.responses import metadata_result
from catalog.view_updates import ViewRequirement, ViewUpdate
from catalog.views import LoadedView

router = APIRouter(prefix="/v1/{prefix}", tags=["Catalog API"])


class CreateViewRequest(PyIcebergCreateViewRequest, BadInputIs400):
    """PyIceberg's request model, with ``location`` optional as in the spec."""

    location: str | None = Field(default=None)


class CommitViewRequest(IcebergBaseModel, BadInputIs400):
    identifier: TableIdentifier | None = None
    requirements: tuple[ViewRequirement, ...] = Field(default_factory=tuple)
    updates: tuple[ViewUpdate, ...] = Field(default_factory=tuple)


class RenameViewRequest(IcebergBaseModel, BadInputIs400):
    source: TableIdentifier
    destination: TableIdentifier


def view_result(loaded: LoadedView, config: dict[str, str]) -> Response:
    """A LoadViewResult body."""
    body = metadata_result(loaded.metadata_location, loaded.metadata.model_dump_json().encode(), config)
    return Response(content=body, media_type="application/json")


@router.get("/namespaces/{namespace}/views")
def list_views(
    prefix: str,
    namespace: str,
    page_token: str | None = Query(default=None, alias="pageToken"),
    page_size: int | None = Query(default=None, alias="pageSize"),
    ctx: CatalogContext = Depends(get_context),
) -> dict:
    """Views of a namespace, paginated by a stable token."""
    ns = parse_namespace(namespace)
    objects = ctx.views(prefix)
    return identifiers_page(ns, page_token, page_size, lambda after, limit: objects.list(ns, after, limit))


@router.post("/namespaces/{namespace}/views")
def create_view(
    prefix: str, namespace: str, body: CreateViewRequest, request: Request, ctx: CatalogContext = Depends(get_context)
) -> Response:
    """Create a view."""
    views = ctx.views(prefix)
    loaded = views.create(parse_namespace(namespace), body)
    return view_result(loaded, views.warehouse.client_config(may_see_secrets(request)))


@router.get("/namespaces/{namespace}/views/{view}")
def load_view(
    prefix: str, namespace: str, view: str, request: Request, ctx: CatalogContext = Depends(get_context)
) -> Response:
    """A view's current metadata."""
    views = ctx.views(prefix)
    loaded = views.load(parse_namespace(namespace), parse_name(view, "view name"))
    return view_result(loaded, views.warehouse.client_config(may_see_secrets(request)))


@router.head("/namespaces/{namespace}/views/{view}", status_code=204)
def view_exists(prefix: str, namespace: str, view: str, ctx: CatalogContext = Depends(get_context)) -> Response:
    """204 when the view exists, 404 otherwise."""
    ctx.views(prefix).load(parse_namespace(namespace), parse_name(view, "view name"))
    return Response(status_code=204)


@router.post("/namespaces/{namespace}/views/{view}")
def replace_view(
    prefix: str,
    namespace: str,
    view: str,
    body: CommitViewRequest,
    request: Request,
    ctx: CatalogContext = Depends(get_context),
) -> Response:
    """Apply view updates (a new version, properties) atomically; 409 when a requirement fails."""
    ns, name = parse_namespace(namespace), parse_name(view, "view name")
    if body.identifier is not None and (tuple(body.identifier.namespace.root), body.identifier.name) != (ns, name):
        raise BadRequestError(f"Identifier in the body does not match the path: {display(ns, name)}")
    views = ctx.views(prefix)
    loaded = views.replace(ns, name, body.requirements, body.updates)
    return view_result(loaded, views.warehouse.client_config(may_see_secrets(request)))


@router.delete("/namespaces/{namespace}/views/{view}", status_code=204)
def drop_view(prefix: str, namespace: str, view: str, ctx: CatalogContext = Depends(get_context)) -> Response:
    """Drop a view."""
    ctx.views(prefix).drop(parse_namespace(namespace), parse_name(view, "view name"))
    return Response(status_code=204)


@router.post("/namespaces/{namespace}/register-view")
def register_view(
    prefix: str,
    namespace: str,
    body: RegisterViewRequest,
    request: Request,
    ctx: CatalogContext = Depends(get_context),
) -> Response:
    """Register an existing view metadata file under a name."""
    views = ctx.views(prefix)
    loaded = views.register(parse_namespace(namespace), body.name, body.metadata_location)
    return view_result(loaded, views.warehouse.client_config(may_see_secrets(request)))


@router.post("/views/rename", status_code=204)
def rename_view(prefix: str, body: RenameViewRequest, ctx: CatalogContext = Depends(get_context)) -> Response:
    """Rename a view, possibly into another namespace."""
    src = (validate_namespace(body.source.namespace.root), validate_name(body.source.name, "view name"))
    dst = (validate_namespace(body.destination.namespace.root), validate_name(body.destination.name, "view name"))
    ctx.views(prefix).rename(src, dst)
    return Response(status_code=204)
