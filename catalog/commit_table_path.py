"""commitTable, every engine's write, answered by a plain ASGI handler in front of FastAPI.

As with loadTable (:mod:`catalog.load_table_path`), FastAPI's route matching over every
route, dependency and parameter resolution and response objects cost a large share of a
catalog-only commit (measured: 20-35% of the server's CPU per ``set-properties`` commit).
This handler answers ``POST /v1/{prefix}/namespaces/{namespace}/tables/{table}`` with the
route's own request model and function (:func:`commit_table_response`). A body that is not
JSON or does not validate, or a query string, is handed to FastAPI unchanged, which
answers it as it always did (a 400 with FastAPI's validation message).
"""

from __future__ import annotations

import json

from anyio import to_thread
from pydantic import ValidationError
from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.body_limit import replay_body
from catalog.context import CatalogContext
from catalog.errors import CatalogError, error_body
from catalog.idempotency import read_body
from catalog.load_table_path import LOAD_TABLE_PATH
from catalog.routers.tables import UpdateTableRequest, commit_table_response


class CommitTableFastPath:
    """Answers single-table commits with a JSON body; passes every other request on to FastAPI."""

    def __init__(self, app: ASGIApp, context: CatalogContext) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("query_string"):
            match = LOAD_TABLE_PATH.match(scope["path"])
        if match is None or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        try:
            request = UpdateTableRequest.model_validate(json.loads(body))
        except (ValueError, ValidationError):  # FastAPI words the 400
            await self.app(scope, replay_body(body, receive), send)
            return
        try:
            content = await to_thread.run_sync(commit_table_response, self.context, *match.groups(), request)
        except CatalogError as exc:
            payload = json.dumps(error_body(exc.status_code, exc.error_type, exc.message)).encode()
            await _send(send, exc.status_code, payload, exc.headers)
            return
        await _send(send, 200, content, {})


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would parse the body as JSON: no content type, or a JSON one."""
    for key, value in scope.get("headers") or ():
        if key == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))
    return True


async def _send(send: Send, status: int, body: bytes, headers: dict[str, str]) -> None:
    raw = [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
    raw += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
