"""The query gateway application."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pyiceberg.catalog import load_catalog

from commonlake.settings import Settings
from query_gateway.access import AccessControl
from query_gateway.async_queries import AsyncQueries
from query_gateway.errors import QueryError
from query_gateway.routers import async_sql, projects, sql, tables, web
from query_gateway.service import QueryService

logger = logging.getLogger(__name__)
DESCRIPTION = """Read-only SQL (DataFusion) over the Iceberg tables of the Commonlake catalog.

* `POST /v1/sql` answers JSON, CSV, Arrow IPC or Parquet (by `Accept`).
* `/v1/async-sql` is the Open Source Observer contract: `pyoso.Client(key, ClientConfig(base_url=…/v1/))` works.
* Send `Authorization: Bearer <api key>`; without one, the anonymous tier (tighter limits) applies when enabled.
"""


def create_app(settings: Settings) -> FastAPI:
    """Build the gateway for the given settings (it reaches the catalog over REST)."""
    catalog = load_catalog("commonlake", **settings.rest_catalog_properties())
    service = QueryService(settings, catalog)
    async_queries = AsyncQueries(service, settings.gateway.async_result_ttl_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            async_queries.close()
            service.close()

    # FastAPIOffline: FastAPI whose /docs and /redoc load Swagger UI and ReDoc from the gateway, not a CDN.
    app = FastAPIOffline(title="Commonlake query gateway", version="0.2.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.catalog = catalog
    app.state.service = service
    app.state.async_queries = async_queries
    app.state.access = AccessControl(settings.gateway)
    for module in (sql, async_sql, tables, projects, web):
        app.include_router(module.router)

    @app.exception_handler(QueryError)
    async def _query_error(_: Request, exc: QueryError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("Unexpected error", exc_info=exc)
        return JSONResponse({"error": f"Internal error of the gateway ({type(exc).__name__})"}, status_code=500)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": _describe_validation(exc)}, status_code=400)

    @app.get("/health", tags=["Service"])
    def health() -> dict:
        """Liveness, and the result cache's counters."""
        return {"status": "ok", "cache": service.cache.stats()}

    return app


def _describe_validation(exc: RequestValidationError) -> str:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        detail = next(e for e in errors if e.get("type") == "json_invalid").get("ctx", {}).get("error", "")
        return f"Request body is not valid JSON: {detail}".strip()
    parts = []
    for error in errors[:5]:
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{location or 'body'}: {error.get('msg')}")
    return "Malformed request: " + "; ".join(parts)
