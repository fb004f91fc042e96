"""Namespace and table names: decoding from the URL, validation, and raw-path routing.

Names arrive percent-encoded in the path. Starlette matches routes on the *decoded* path,
so an encoded ``/`` (``%2F``) inside a name would become a path separator. The
:class:`RawPathMiddleware` routes on the raw (still encoded) path instead, and the route
handlers decode each segment themselves with :func:`decode_segment`.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from catalog.errors import BadRequestError

NAMESPACE_SEPARATOR = "\x1f"
MAX_NAME_LENGTH = 255

Identifier = tuple[str, ...]


class RawPathMiddleware:
    """Make Starlette route on the still-percent-encoded path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("raw_path"):
            raw = scope["raw_path"].split(b"?", 1)[0]
            scope = dict(scope)
            scope["path"] = raw.decode("latin-1")
        await self.app(scope, receive, send)


def decode_segment(segment: str) -> str:
    """Decode one percent-encoded path segment."""
    return unquote(segment, errors="strict") if "%" in segment else segment


def validate_name(name: str, what: str = "name") -> str:
    """Reject names that are empty, too long, or could escape a directory or confuse a client."""
    if not name:
        raise BadRequestError(f"Invalid {what}: must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequestError(f"Invalid {what}: longer than {MAX_NAME_LENGTH} characters")
    if name in (".", "..") or name.startswith("."):
        raise BadRequestError(f"Invalid {what} {name!r}: must not start with '.'")
    if "/" in name or "\\" in name:
        raise BadRequestError(f"Invalid {what} {name!r}: must not contain a path separator")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in name):
        raise BadRequestError(f"Invalid {what} {name!r}: must not contain control characters")
    if name != name.strip():
        raise BadRequestError(f"Invalid {what} {name!r}: must not start or end with whitespace")
    return name


def validate_namespace(levels: list[str] | tuple[str, ...]) -> Identifier:
    """Validate every level of a namespace."""
    if not levels:
        raise BadRequestError("Invalid namespace: must have at least one level")
    return tuple(validate_name(level, "namespace") for level in levels)


def parse_namespace(path_segment: str) -> Identifier:
    """Parse a namespace path parameter: percent-encoded levels joined by the unit separator."""
    try:
        decoded = decode_segment(path_segment)
    except UnicodeDecodeError as exc:
        raise BadRequestError("Invalid namespace: not valid UTF-8") from exc
    return validate_namespace(decoded.split(NAMESPACE_SEPARATOR))


def parse_name(path_segment: str, what: str = "table name") -> str:
    """Parse a table or view path parameter."""
    try:
        return validate_name(decode_segment(path_segment), what)
    except UnicodeDecodeError as exc:
        raise BadRequestError(f"Invalid {what}: not valid UTF-8") from exc


def namespace_key(namespace: Identifier) -> str:
    """The namespace as one string for the database."""
    return NAMESPACE_SEPARATOR.join(namespace)


def namespace_from_key(key: str) -> Identifier:
    """Inverse of :func:`namespace_key`."""
    return tuple(key.split(NAMESPACE_SEPARATOR))


def display(namespace: Identifier, name: str | None = None) -> str:
    """Human-readable dotted name for error messages."""
    parts = [*namespace, name] if name is not None else list(namespace)
    return ".".join(parts)
