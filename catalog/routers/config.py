"""``GET /v1/config``: catalog configuration and the list of implemented endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from catalog.context import CatalogContext, get_context

router = APIRouter(tags=["Configuration API"])

# Advertised so clients (PyIceberg gates every call on this list; Spark needs the view
# routes) know what the server implements.
ENDPOINTS: list[str] = [
    "GET /v1/{prefix}/namespaces",
    "POST /v1/{prefix}/namespaces",
    "GET /v1/{prefix}/namespaces/{namespace}",
    "HEAD /v1/{prefix}/namespaces/{namespace}",
    "DELETE /v1/{prefix}/namespaces/{namespace}",
    "POST /v1/{prefix}/namespaces/{namespace}/properties",
    "GET /v1/{prefix}/namespaces/{namespace}/tables",
    "POST /v1/{prefix}/namespaces/{namespace}/tables",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/tables/{table}",
    "POST /v1/{prefix}/namespaces/{namespace}/register",
    "POST /v1/{prefix}/namespaces/{namespace}/tables/{table}/metrics",
    "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}/credentials",
    "POST /v1/{prefix}/tables/rename",
    "POST /v1/{prefix}/transactions/commit",
    "GET /v1/{prefix}/namespaces/{namespace}/views",
    "POST /v1/{prefix}/namespaces/{namespace}/views",
    "GET /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "HEAD /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "POST /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "DELETE /v1/{prefix}/namespaces/{namespace}/views/{view}",
    "POST /v1/{prefix}/namespaces/{namespace}/register-view",
    "POST /v1/{prefix}/views/rename",
]


def iso_duration(seconds: int) -> str:
    """Seconds as an ISO-8601 duration (PT30M, PT1H, PT90S)."""
    if seconds % 3600 == 0:
        return f"PT{seconds // 3600}H"
    if seconds % 60 == 0:
        return f"PT{seconds // 60}M"
    return f"PT{seconds}S"


@router.get("/v1/config")
def get_config(warehouse: str | None = None, ctx: CatalogContext = Depends(get_context)) -> dict:
    """Defaults, overrides (the warehouse's prefix) and the implemented endpoints."""
    wh = ctx.warehouse(warehouse)
    return {
        # DuckDB's iceberg extension fails without a `defaults` object.
        "defaults": {},
        "overrides": {"prefix": wh.name, "warehouse": wh.name},
        "endpoints": ENDPOINTS,
        "idempotency-key-lifetime": iso_duration(ctx.settings.catalog.idempotency_key_lifetime_seconds),
    }
