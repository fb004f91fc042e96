"""ASGI application factories for uvicorn (``--factory``), reading COMMONLAKE_* settings.

Used when a server runs with several worker processes: each worker builds its app from
the environment the CLI prepared.
"""

from __future__ import annotations

from fastapi import FastAPI

from commonlake.settings import Settings


def catalog_app() -> FastAPI:
    """The REST catalog server for the settings in the environment."""
    from catalog import create_app

    return create_app(Settings())


def gateway_app() -> FastAPI:
    """The query gateway for the settings in the environment."""
    from query_gateway import create_app

    return create_app(Settings())
