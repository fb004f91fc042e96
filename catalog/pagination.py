"""Stable page tokens for list routes.

A token encodes the last name of the previous page (not an offset), so a page never
repeats or skips an entry when other entries are created or dropped in between.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from catalog.errors import BadRequestError

MAX_PAGE_SIZE = 1000


def encode_token(last_key: str) -> str:
    """The opaque token that resumes after ``last_key``."""
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode_token(token: str | None) -> str | None:
    """The key to resume after, or None for the first page."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        return base64.b64decode(padded.encode(), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestError(f"Invalid pageToken: {token!r}") from exc


def check_page_size(page_size: int | None) -> int | None:
    """Validate ``pageSize``; None means everything."""
    if page_size is None:
        return None
    if page_size < 1:
        raise BadRequestError("Invalid pageSize: must be at least 1")
    return min(page_size, MAX_PAGE_SIZE)


def page(keys: list[str], page_size: int | None) -> tuple[list[str], str | None]:
    """Cut a list fetched with one extra entry into a page and the next token."""
    if page_size is not None and len(keys) > page_size:
        keys = keys[:page_size]
        return keys, encode_token(keys[-1])
    return keys, None


def identifiers_page(
    namespace: tuple[str, ...],
    page_token: str | None,
    page_size: int | None,
    list_names: Callable[[str | None, int | None], list[str]],
) -> dict:
    """A ListTablesResponse / ListViewsResponse page: ``list_names(after, limit)`` fetches one extra name."""
    size = check_page_size(page_size)
    names, next_token = page(list_names(decode_token(page_token), None if size is None else size + 1), size)
    return {"identifiers": [{"namespace": list(namespace), "name": n} for n in names], "next-page-token": next_token}
