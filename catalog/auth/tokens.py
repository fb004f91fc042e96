"""Access tokens: HMAC-signed JWTs (PyJWT, HS256) carrying the principal and its roles.

The roles travel inside the token, so checking a request costs one signature check,
cached per token, and no database round trip (the check sits on the loadTable hot
path). A role change therefore takes effect when the holder's token expires.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass

import jwt

ISSUER = "commonlake-catalog"
_CACHE_MAX = 4096


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says about its holder."""

    subject: str
    roles: dict[str, str]
    expires_at: float


class InvalidTokenError(Exception):
    """A token that is malformed, forged or expired (the message never contains the token)."""


class TokenSigner:
    """Issues and verifies the catalog's access tokens."""

    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = key
        self.ttl_seconds = ttl_seconds
        self._verified: dict[str, TokenClaims] = {}
        self._lock = threading.Lock()

    def issue(self, subject: str, roles: dict[str, str]) -> str:
        """A new signed token for ``subject`` that expires after the configured lifetime."""
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "sub": subject,
            "roles": roles,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self._key, algorithm="HS256")

    def verify(self, token: str) -> TokenClaims:
        """The claims of a valid, unexpired token; raises InvalidTokenError otherwise."""
        claims = self._verified.get(token)
        if claims is None:
            try:
                payload = jwt.decode(
                    token, self._key, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "sub"]}
                )
            except jwt.ExpiredSignatureError as exc:
                raise InvalidTokenError("Token has expired") from exc
            except jwt.PyJWTError as exc:
                raise InvalidTokenError("Token is malformed or not signed by this catalog") from exc
            roles = payload.get("roles")
            if not isinstance(roles, dict):
                raise InvalidTokenError("Token carries no roles")
            claims = TokenClaims(str(payload["sub"]), {str(k): str(v) for k, v in roles.items()}, payload["exp"])
            with self._lock:
                if len(self._verified) >= _CACHE_MAX:
                    self._verified.clear()
                self._verified[token] = claims
        if claims.expires_at <= time.time():
            raise InvalidTokenError("Token has expired")
        return claims
