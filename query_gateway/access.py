"""API keys (``Authorization: Bearer <key>``) and per-client rate limits.

Each key has a token bucket (``burst`` requests at once, refilled at
``requests_per_minute``); requests without a key share the anonymous tier, one bucket per
client address, when anonymous access is allowed. Over the limit: 429 with Retry-After.
A token bucket is a few lines; no rate-limit library fits FastAPI dependencies without
bringing its own storage layer, so it is written here.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass

from fastapi import Request

from commonlake.settings import GatewaySettings
from query_gateway.errors import QueryError


@dataclass(frozen=True)
class Client:
    """Who is asking: a key holder's name, or ``anonymous``."""

    name: str
    anonymous: bool


class TokenBucket:
    """``capacity`` tokens, refilled continuously at ``rate`` per second."""

    def __init__(self, capacity: int, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = float(capacity)
        self.updated = time.monotonic()

    def take(self) -> float:
        """Take a token: 0.0 when allowed, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else math.inf


class AccessControl:
    """Authenticates requests by API key and applies each client's rate limit."""

    def __init__(self, settings: GatewaySettings, max_anonymous_buckets: int = 10_000) -> None:
        self.settings = settings
        # Keys are looked up by their SHA-256, so no comparison runs over the secret itself.
        self._keys = {
            hashlib.sha256(api_key.key.get_secret_value().encode()).digest(): (name, api_key)
            for name, api_key in settings.api_keys.items()
        }
        self._buckets: dict[str, TokenBucket] = {}
        self._max_anonymous = max_anonymous_buckets
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> Client:
        """The client a request's Authorization header names; QueryError 401 when refused."""
        if authorization:
            scheme, _, token = authorization.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise QueryError("Authorization must be 'Bearer <api key>'", status=401, headers=_challenge())
            found = self._keys.get(hashlib.sha256(token.strip().encode()).digest())
            if found is None:
                raise QueryError("Unknown API key", status=401, headers=_challenge())
            return Client(found[0], anonymous=False)
        if not self.settings.allow_anonymous:
            raise QueryError("An API key is required (Authorization: Bearer <key>)", status=401, headers=_challenge())
        return Client("anonymous", anonymous=True)

    def admit(self, client: Client, address: str) -> None:
        """Count one request against the client's limit; QueryError 429 with Retry-After when over it."""
        bucket_key = f"anon:{address}" if client.anonymous else f"key:{client.name}"
        with self._lock:
            bucket = self._buckets.get(bucket_key)
            if bucket is None:
                bucket = self._new_bucket(client)
                if client.anonymous and len(self._buckets) >= self._max_anonymous:
                    self._buckets.pop(next(iter(self._buckets)))
                self._buckets[bucket_key] = bucket
            wait = bucket.take()
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            tier = "anonymous tier" if client.anonymous else f"API key {client.name!r}"
            raise QueryError(
                f"Rate limit of the {tier} exceeded; retry in {retry_after} s",
                status=429,
                headers={"Retry-After": str(retry_after)},
            )

    def _new_bucket(self, client: Client) -> TokenBucket:
        if client.anonymous:
            return TokenBucket(self.settings.anonymous_burst, self.settings.anonymous_requests_per_minute / 60)
        api_key = self.settings.api_keys[client.name]
        return TokenBucket(api_key.burst, api_key.requests_per_minute / 60)


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="commonlake"'}


async def require_client(request: Request) -> Client:
    """FastAPI dependency: the authenticated, rate-limited client of this request.

    Async on purpose: it never blocks, so it runs on the event loop without a thread hop.
    """
    access: AccessControl = request.app.state.access
    client = access.authenticate(request.headers.get("authorization"))
    access.admit(client, request.client.host if request.client else "unknown")
    return client
