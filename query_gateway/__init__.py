"""Commonlake's query gateway: SQL and metrics over the catalog's tables, through DataFusion."""

from query_gateway.app import create_app

__all__ = ["create_app"]
