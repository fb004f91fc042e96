"""Request size limit: bodies over the configured size get 413 before any route sees them."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog.errors import error_body


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413 (declared or streamed).

    A declared Content-Length over the limit is refused without reading. A chunked body is
    read up to the limit first and then handed on, because a route that fails half-way
    through reading would answer a vague 400 instead.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for key, value in scope.get("headers") or ():
            if key == b"content-length":
                declared = value
                break
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                await _send_too_large(send, self.max_bytes)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)
                return
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await _send_too_large(send, self.max_bytes)
                return
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        await self.app(scope, replay_body(b"".join(chunks), receive), send)


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app a body already read, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _send_too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps(error_body(413, "BadRequestException", f"Request body larger than {max_bytes} bytes")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
