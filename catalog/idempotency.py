"""``Idempotency-Key`` on mutating routes: a retried request replays the first final result.

Keys live in the catalog database, so a retry that lands on another replica replays too.
A key is reserved (state ``pending``) before the request runs and finalized with the
response once it is a 2xx or a 4xx; a 5xx is not finalized, so the client's retry runs
again, as the spec asks. The same key on a different request is refused with 422.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass

from anyio import to_thread
from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog.body_limit import replay_body
from catalog.errors import error_body
from catalog.schema import idempotency_table
from catalog.store import CatalogStore

MUTATING_METHODS = frozenset({"POST", "DELETE", "PUT"})
MAX_KEY_LENGTH = 64
# A pending reservation older than this belongs to a replica that died mid-request.
STALE_PENDING_MS = 120_000
WAIT_FOR_PENDING_S = 10.0


@dataclass(frozen=True)
class StoredResponse:
    status: int
    content_type: str | None
    body: bytes


@dataclass(frozen=True)
class Reservation:
    """Outcome of reserving a key: run the request, replay a response, or refuse."""

    run: bool = False
    replay: StoredResponse | None = None
    mismatch: bool = False
    busy: bool = False


class IdempotencyStore:
    """Idempotency keys and their final responses in the catalog database."""

    def __init__(self, store: CatalogStore, lifetime_seconds: int) -> None:
        self.store = store
        self.lifetime_ms = lifetime_seconds * 1000

    def reserve(self, key: str, fingerprint: str) -> Reservation:
        """Reserve ``key`` for this request, or say what an earlier request with it left."""
        now = int(time.time() * 1000)
        try:
            with self.store.write() as conn:
                # Expired keys go first; cheap thanks to the index on created_at_ms.
                expired = idempotency_table.c.created_at_ms < now - self.lifetime_ms
                conn.execute(delete(idempotency_table).where(expired))
                row = {"key": key, "fingerprint": fingerprint, "state": "pending", "created_at_ms": now}
                conn.execute(insert(idempotency_table).values(**row))
            return Reservation(run=True)
        except IntegrityError:
            pass
        with self.store.read() as conn:
            row = conn.execute(select(idempotency_table).where(idempotency_table.c.key == key)).mappings().first()
        if row is None:  # finalized as a 5xx and released in between: run it
            return self.reserve(key, fingerprint)
        if row["fingerprint"] != fingerprint:
            return Reservation(mismatch=True)
        if row["state"] == "done":
            return Reservation(replay=StoredResponse(row["status"], row["content_type"], bytes(row["body"] or b"")))
        if now - row["created_at_ms"] > STALE_PENDING_MS:
            with self.store.write() as conn:
                taken = conn.execute(
                    update(idempotency_table)
                    .where(and_(idempotency_table.c.key == key, idempotency_table.c.state == "pending"))
                    .where(idempotency_table.c.created_at_ms == row["created_at_ms"])
                    .values(created_at_ms=now)
                ).rowcount
            if taken == 1:
                return Reservation(run=True)
        return Reservation(busy=True)

    def finalize(self, key: str, response: StoredResponse) -> None:
        """Remember the final response of the request that holds ``key``."""
        with self.store.write() as conn:
            conn.execute(
                update(idempotency_table)
                .where(idempotency_table.c.key == key)
                .values(state="done", status=response.status, content_type=response.content_type, body=response.body)
            )

    def release(self, key: str) -> None:
        """Forget a reservation whose request failed with a 5xx (the retry runs again)."""
        with self.store.write() as conn:
            conn.execute(delete(idempotency_table).where(idempotency_table.c.key == key))


def fingerprint_of(method: str, path: str, query: bytes, body: bytes) -> str:
    """What makes two requests "the same operation"."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode("latin-1"), query, body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class IdempotencyMiddleware:
    """Replays the final response of a request retried with the same ``Idempotency-Key``."""

    def __init__(self, app: ASGIApp, keys: IdempotencyStore) -> None:
        self.app = app
        self.keys = keys

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in MUTATING_METHODS or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        key = _header(scope, b"idempotency-key")
        if key is None or scope["path"] == "/v1/oauth/tokens":
            await self.app(scope, receive, send)
            return
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            await _send_json(send, 400, error_body(400, "BadRequestException", "Invalid Idempotency-Key header"))
            return

        body = await read_body(receive)
        fingerprint = fingerprint_of(scope["method"], scope["path"], scope.get("query_string", b""), body)
        deadline = time.monotonic() + WAIT_FOR_PENDING_S
        while True:
            reservation = await to_thread.run_sync(self.keys.reserve, key, fingerprint)
            if not reservation.busy or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)  # the first attempt is still running: wait for its result
        if reservation.mismatch:
            message = "Idempotency-Key was already used for a different request"
            await _send_json(send, 422, error_body(422, "UnprocessableEntityException", message))
            return
        if reservation.replay is not None:
            await _replay(send, reservation.replay)
            return
        if reservation.busy:
            message = "A request with this Idempotency-Key is still in progress; retry later"
            await _send_json(send, 503, error_body(503, "ServiceUnavailableException", message))
            return

        captured: dict = {"status": 500, "content_type": None, "body": []}

        async def capture_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["content_type"] = dict(message.get("headers") or []).get(b"content-type", b"").decode() or None
            elif message["type"] == "http.response.body":
                captured["body"].append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_body(body, receive), capture_send)
        except BaseException:
            await to_thread.run_sync(self.keys.release, key)
            raise
        status = captured["status"]
        if status >= 500:
            await to_thread.run_sync(self.keys.release, key)
        else:
            stored = StoredResponse(status, captured["content_type"], b"".join(captured["body"]))
            await to_thread.run_sync(self.keys.finalize, key, stored)


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope.get("headers") or ():
        if k == name:
            return v.decode("latin-1").strip()
    return None


async def read_body(receive: Receive) -> bytes:
    """The whole request body, read from an ASGI ``receive``."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _replay(send: Send, response: StoredResponse) -> None:
    headers = [(b"content-length", str(len(response.body)).encode()), (b"idempotent-replayed", b"true")]
    if response.content_type:
        headers.append((b"content-type", response.content_type.encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


async def _send_json(send: Send, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
