"""A snapshot-aware result cache.

Entries are keyed by the normalised query, the row limit, and the (snapshot id, schema
id) of every table the query reads, as resolved from the catalog for *this* request. A
new snapshot of any of those tables gives a new key, so an old entry can never answer
again: it just ages out of the LRU. Size is bounded by the Arrow bytes held.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from query_gateway.engine import QueryResult


@dataclass
class CachedResult:
    """A result and the encodings already produced for it (so a hit re-encodes nothing)."""

    key: Hashable
    result: QueryResult
    encoded: dict[str, bytes] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Memory the entry holds."""
        return self.result.table.nbytes + sum(len(v) for v in self.encoded.values()) + 512


class ResultCache:
    """An LRU of query results bounded by bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, CachedResult] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> CachedResult | None:
        """The entry for ``key``, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._entries

    def put(self, key: Hashable, result: QueryResult) -> CachedResult:
        """Remember ``result`` under ``key`` (skipped when larger than the whole cache)."""
        entry = CachedResult(key, result)
        if entry.nbytes > self.max_bytes:
            return entry
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = entry
            self._bytes += entry.nbytes
            self._evict()
        return entry

    def remember_encoding(self, entry: CachedResult, media_type: str, body: bytes) -> None:
        """Keep an encoded body with its entry, within the size bound."""
        with self._lock:
            before = entry.nbytes
            entry.encoded[media_type] = body
            if self._entries.get(entry.key) is entry:
                self._bytes += entry.nbytes - before
                self._evict()

    def _evict(self) -> None:
        while self._bytes > self.max_bytes and self._entries:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.nbytes

    def stats(self) -> dict[str, Any]:
        """Entries, bytes, hits and misses."""
        with self._lock:
            return {"entries": len(self._entries), "bytes": self._bytes, "hits": self.hits, "misses": self.misses}
