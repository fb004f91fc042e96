"""The Iceberg REST catalog server application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from catalog.auth import AccessMiddleware
from catalog.body_limit import BodySizeLimitMiddleware
from catalog.commit_table_path import CommitTableFastPath
from catalog.context import CatalogContext
from catalog.errors import install_error_handlers
from catalog.idempotency import IdempotencyMiddleware
from catalog.load_table_path import LoadTableFastPath
from catalog.names import RawPathMiddleware
from catalog.routers import config, namespaces, oauth, tables, transactions, views
from commonlake.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    """Build the catalog server for the given settings."""
    context = CatalogContext.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        context.store.close()

    app = FastAPI(
        title="Commonlake Iceberg REST catalog",
        version="0.1.0",
        description="Apache Iceberg REST catalog (spec 1.11.0) for Commonlake.",
        lifespan=lifespan,
    )
    app.state.catalog = context
    install_error_handlers(app)
    for module in (config, oauth, namespaces, tables, views, transactions):
        app.include_router(module.router)

    @app.get("/health", include_in_schema=False)
    def health() -> dict:
        return {"status": "ok"}

    # Added innermost first: body limit -> raw-path routing -> access check -> idempotency -> loadTable
    # -> commitTable -> routes.
    app.add_middleware(CommitTableFastPath, context=context)
    app.add_middleware(LoadTableFastPath, context=context)
    app.add_middleware(IdempotencyMiddleware, keys=context.idempotency)
    if context.authenticator is not None:
        app.add_middleware(
            AccessMiddleware,
            signer=context.authenticator.signer,
            default_warehouse=context.default_warehouse,
            anonymous_read=settings.catalog.auth.anonymous_read,
            warehouse_names={wh.root: wh.name for wh in context.warehouses.values()},
        )
    app.add_middleware(RawPathMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.catalog.max_request_bytes)
    return app
