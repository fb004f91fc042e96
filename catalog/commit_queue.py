"""Commits to one table take turns inside a server process.

Two commits to the same table can never both win: each swaps the metadata pointer from
the location it read, so when they overlap one of them does all its work (reading the
base metadata, applying the updates, writing a metadata file) only to lose the swap and
start again. Letting them queue in the process costs the loser nothing but the wait.

This is only a way to waste less work: correctness still comes from the database's
compare-and-swap, which also arbitrates between processes and replicas. So a commit that
waits longer than ``timeout`` seconds for its turn goes ahead without it, and a stuck
holder never blocks anyone for good.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator
from contextlib import contextmanager


class _Turn:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.users = 0


class CommitQueue:
    """One queue per key (a table), created on demand and dropped when nobody holds or waits for it."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._guard = threading.Lock()
        self._turns: dict[Hashable, _Turn] = {}

    @contextmanager
    def turn(self, key: Hashable) -> Iterator[bool]:
        """Wait for ``key``'s turn (up to ``timeout``); yields whether the turn was obtained."""
        with self._guard:
            turn = self._turns.get(key)
            if turn is None:
                turn = self._turns[key] = _Turn()
            turn.users += 1
        acquired = turn.lock.acquire(timeout=self.timeout)
        try:
            yield acquired
        finally:
            if acquired:
                turn.lock.release()
            with self._guard:
                turn.users -= 1
                if turn.users == 0:
                    del self._turns[key]

    def __len__(self) -> int:
        """Number of keys somebody holds or waits for."""
        with self._guard:
            return len(self._turns)
