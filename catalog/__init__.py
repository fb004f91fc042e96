"""Commonlake's Iceberg REST catalog server."""

from catalog.app import create_app

__all__ = ["create_app"]
