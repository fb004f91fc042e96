"""The access check on every request: a pure ASGI middleware in front of the routes.

It runs before FastAPI so that it is cheap (no dependency resolution on the loadTable
hot path) and before the idempotency layer (a replayed response is only ever shown to
a caller allowed to make the request). What a route needs is read from its method and
path: reads are GET/HEAD (and metrics reports, which readers' engines send); anything
else on ``/v1/{prefix}/…`` writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from urllib.parse import parse_qs, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.auth.tokens import InvalidTokenError, TokenSigner
from catalog.errors import error_body

PUBLIC_PATHS = frozenset({"/v1/oauth/tokens", "/health", "/docs", "/openapi.json", "/docs/oauth2-redirect"})
ANONYMOUS = "anonymous"
# PyIceberg without credentials sends "Authorization: Bearer None": that is no credential, not a bad one.
NO_CREDENTIALS = frozenset({"bearer none", "bearer null", "bearer"})


class Permission(Enum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True)
class Principal:
    """The caller of a request, as the routes see it (``scope["state"]["principal"]``)."""

    name: str
    authenticated: bool


def required_permission(method: str, path: str) -> tuple[Permission, str | None] | None:
    """What a request needs, and in which warehouse (None: the default one); None for public routes."""
    if path in PUBLIC_PATHS:
        return None
    if path == "/v1/config":
        return Permission.READ, None
    parts = path.split("/", 3)
    warehouse = unquote(parts[2]) if len(parts) > 2 and parts[1] == "v1" else None
    if method in ("GET", "HEAD", "OPTIONS") or (method == "POST" and path.endswith("/metrics")):
        return Permission.READ, warehouse
    return Permission.WRITE, warehouse


def allows(roles: dict[str, str], permission: Permission, warehouse: str) -> bool:
    """True when the roles grant ``permission`` in ``warehouse``."""
    role = roles.get(warehouse) or roles.get("*")
    if role == "writer":
        return True
    return role == "reader" and permission is Permission.READ


class AccessMiddleware:
    """401 without a valid token (unless anonymous reads are on), 403 for a reader that writes."""

    def __init__(
        self,
        app: ASGIApp,
        signer: TokenSigner,
        default_warehouse: str,
        anonymous_read: bool,
        warehouse_names: dict[str, str] | None = None,
    ) -> None:
        self.app = app
        self.signer = signer
        self.default_warehouse = default_warehouse
        self.anonymous_read = anonymous_read
        # Clients may name a warehouse by its location: roles are granted by name.
        self.warehouse_names = warehouse_names or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        needed = required_permission(scope["method"], scope["path"])
        if needed is None:
            await self.app(scope, receive, send)
            return
        permission, warehouse = needed
        if warehouse is None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            warehouse = (query.get("warehouse") or [self.default_warehouse])[0]
        authorization = _header(scope, b"authorization")
        if authorization is not None and authorization.strip().lower() in NO_CREDENTIALS:
            authorization = None
        if authorization is None:
            if self.anonymous_read and permission is Permission.READ:
                _set_principal(scope, Principal(ANONYMOUS, authenticated=False))
                await self.app(scope, receive, send)
                return
            await _deny(send, 401, "NotAuthorizedException", "Authentication required: send a bearer token")
            return
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            await _deny(send, 401, "NotAuthorizedException", "Authorization must be a bearer token")
            return
        try:
            claims = self.signer.verify(token.strip())
        except InvalidTokenError as exc:
            await _deny(send, 401, "NotAuthorizedException", f"Invalid token: {exc}")
            return
        warehouse = self.warehouse_names.get(warehouse.rstrip("/"), warehouse)
        if not allows(claims.roles, permission, warehouse):
            what = "write to" if permission is Permission.WRITE else "read"
            await _deny(send, 403, "ForbiddenException", f"Principal {claims.subject!r} may not {what} this warehouse")
            return
        _set_principal(scope, Principal(claims.subject, authenticated=True))
        await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


def _set_principal(scope: Scope, principal: Principal) -> None:
    scope.setdefault("state", {})["principal"] = principal


async def _deny(send: Send, status: int, error_type: str, message: str) -> None:
    body = json.dumps(error_body(status, error_type, message)).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="commonlake"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
