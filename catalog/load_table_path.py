"""loadTable, the catalog's hottest route, answered by a plain ASGI handler in front of FastAPI.

Engines call loadTable before every query, so it decides how many clients one catalog
process serves. Through FastAPI the same call costs several times the work itself
(route matching over every route, dependency and parameter resolution, response
objects), so this handler answers ``GET /v1/{prefix}/namespaces/{namespace}/tables/{table}``
directly, with the same function the FastAPI route uses (:func:`load_table_response`).
Anything unusual (an invalid ``snapshots`` value, another method) falls through to
FastAPI, which validates and answers it. Measured in-process: ~250 us a call here against
~1,500 us through FastAPI's route (bench/catalog.py shows the end-to-end effect).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.context import CatalogContext
from catalog.errors import CatalogError, error_body
from catalog.names import parse_name, parse_namespace

LOAD_TABLE_PATH = re.compile(r"^/v1/([^/]+)/namespaces/([^/]+)/tables/([^/]+)$")
SNAPSHOT_MODES = ("all", "refs")
# Threads answering loadTable on a client-server database: as many as the connection pool holds.
LOOKUP_THREADS = 16


def load_table_response(
    ctx: CatalogContext,
    prefix: str,
    namespace: str,
    table: str,
    snapshots: str,
    if_none_match: str | None,
    include_secrets: bool,
) -> tuple[int, bytes, str]:
    """Status, body and ETag of a loadTable call (304 with no body when the client's ETag is current)."""
    loaded = ctx.tables(prefix).load(
        parse_namespace(namespace),
        parse_name(table),
        snapshots,
        include_secrets=include_secrets,  # type: ignore[arg-type]
    )
    # The body is a function of the metadata file, the snapshots mode and whether secrets are shown.
    etag = '"' + hashlib.sha1(f"{loaded.metadata_location}|{snapshots}|{include_secrets}".encode()).hexdigest() + '"'
    if if_none_match and etag in [t.strip() for t in if_none_match.split(",")]:
        return 304, b"", etag
    return 200, loaded.body, etag


class LoadTableFastPath:
    """Answers plain loadTable GETs; passes every other request on to FastAPI."""

    def __init__(self, app: ASGIApp, context: CatalogContext) -> None:
        self.app = app
        self.context = context
        # On SQLite the whole call (an indexed lookup in a local file, then a cached body)
        # costs less than handing it to a worker thread (measured: ~250 us inline against
        # ~550 us through the thread pool), so it runs on the event loop. With PostgreSQL
        # the loop would idle on each round trip, so the call runs in a thread of its own
        # pool: a plain executor hand-off costs a third of anyio's ``to_thread`` (measured
        # 15 against 45 us of CPU a call, with 16 concurrent callers).
        self.inline = context.store.is_sqlite
        self.executor = None if self.inline else ThreadPoolExecutor(LOOKUP_THREADS, thread_name_prefix="load-table")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = LOAD_TABLE_PATH.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        if match is None:
            await self.app(scope, receive, send)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        snapshots = query.get("snapshots", "all")
        if snapshots not in SNAPSHOT_MODES or set(query) - {"snapshots"}:
            await self.app(scope, receive, send)
            return
        if_none_match = None
        for key, value in scope.get("headers") or ():
            if key == b"if-none-match":
                if_none_match = value.decode("latin-1")
        principal = scope.get("state", {}).get("principal")
        include_secrets = principal is None or principal.authenticated
        try:
            args = (self.context, *match.groups(), snapshots, if_none_match, include_secrets)
            if self.inline:
                status, body, etag = load_table_response(*args)
            else:
                call = partial(load_table_response, *args)
                status, body, etag = await asyncio.get_running_loop().run_in_executor(self.executor, call)
        except CatalogError as exc:
            await _send(send, exc.status_code, _json(error_body(exc.status_code, exc.error_type, exc.message)), None)
            return
        await _send(send, status, body, etag)


def _json(payload: dict) -> bytes:
    import json

    return json.dumps(payload).encode()


async def _send(send: Send, status: int, body: bytes, etag: str | None) -> None:
    headers = [(b"content-length", str(len(body)).encode())]
    if status != 304:
        headers.append((b"content-type", b"application/json"))
    if etag:
        headers.append((b"etag", etag.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
