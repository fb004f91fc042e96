"""The Open Source Observer client contract: ``/v1/async-sql``, so ``pyoso.Client`` works unchanged.

pyoso posts ``{"query"}`` (Trino SQL, as pyoso transpiles to Trino), polls ``GET
/v1/async-sql?id=`` until the status is final, then fetches ``url`` without credentials
and reads JSON lines: the column names, then one list per row.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from query_gateway import result_formats
from query_gateway.access import Client, require_client
from query_gateway.async_queries import AsyncQueries, AsyncQuery
from query_gateway.errors import QueryError

router = APIRouter(tags=["Async SQL (pyoso)"])


class AsyncSqlRequest(BaseModel):
    """A query in Trino SQL (pyoso's dialect)."""

    query: str = Field(min_length=1, max_length=100_000)


class AsyncSqlStatus(BaseModel):
    """Where a background query is; ``url`` holds its result once completed."""

    id: str
    status: Literal["queued", "running", "completed", "failed", "canceled"]
    url: str | None = None
    error: str | None = None


def _status(query: AsyncQuery, request: Request) -> AsyncSqlStatus:
    url = None
    if query.status == "completed":
        base = request.app.state.settings.gateway.public_url or str(request.base_url)
        url = f"{base.rstrip('/')}/v1/async-sql/results/{query.id}"
    return AsyncSqlStatus(id=query.id, status=query.status, url=url, error=query.error)


@router.post("/v1/async-sql", response_model=AsyncSqlStatus, response_model_exclude_none=True)
def start_query(body: AsyncSqlRequest, request: Request, client: Client = Depends(require_client)) -> AsyncSqlStatus:
    """Start a query; quick ones answer ``completed`` at once."""
    queries: AsyncQueries = request.app.state.async_queries
    query = queries.submit(body.query, client.name, dialect="trino")
    query.done.wait(request.app.state.settings.gateway.async_wait_seconds)
    return _status(query, request)


@router.get("/v1/async-sql", response_model=AsyncSqlStatus, response_model_exclude_none=True)
def query_status(id: str, request: Request, client: Client = Depends(require_client)) -> AsyncSqlStatus:
    """The status of a query this client started."""
    return _status(request.app.state.async_queries.get(id, client.name), request)


@router.delete("/v1/async-sql", response_model=AsyncSqlStatus, response_model_exclude_none=True)
def cancel_query(id: str, request: Request, client: Client = Depends(require_client)) -> AsyncSqlStatus:
    """Cancel a query this client started; answers its status (``canceled`` once stopped)."""
    query = request.app.state.async_queries.cancel(id, client.name)
    query.done.wait(5)  # the worker is killed at once; give the status time to settle
    return _status(query, request)


@router.get("/v1/async-sql/results/{query_id}", responses={200: {"content": {result_formats.JSON_LINES: {}}}})
def query_result(query_id: str, request: Request) -> StreamingResponse:
    """JSON lines: the column names, then one JSON list per row (the id is the credential)."""
    query = request.app.state.async_queries.get(query_id)
    if query.status != "completed" or query.answer is None:
        raise QueryError(f"Query {query_id!r} is {query.status}, it has no result", status=409)
    table = query.answer.entry.result.table
    return StreamingResponse(result_formats.json_lines(table), media_type=result_formats.JSON_LINES)
