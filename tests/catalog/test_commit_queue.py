"""Commits to one table take turns in a server process; other tables do not wait."""

from __future__ import annotations

import threading
import time

from catalog.commit_queue import CommitQueue


def test_holders_of_one_key_never_overlap() -> None:
    queue = CommitQueue(timeout=10)
    inside, most_inside, lock = 0, 0, threading.Lock()

    def commit() -> None:
        nonlocal inside, most_inside
        with queue.turn("t"):
            with lock:
                inside += 1
                most_inside = max(most_inside, inside)
            time.sleep(0.005)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=commit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most_inside == 1
    assert len(queue) == 0  # nothing is kept once nobody holds or waits


def test_different_keys_do_not_wait_for_each_other() -> None:
    queue = CommitQueue(timeout=10)
    both_inside = threading.Barrier(2, timeout=5)
    met = []

    def commit(key: str) -> None:
        with queue.turn(key):
            both_inside.wait()  # raises BrokenBarrierError if the other key had to wait
            met.append(key)

    threads = [threading.Thread(target=commit, args=(key,)) for key in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(met) == ["a", "b"]


def test_a_waiter_goes_ahead_without_its_turn_after_the_timeout() -> None:
    queue = CommitQueue(timeout=0.2)
    release = threading.Event()
    holding = threading.Event()

    def holder() -> None:
        with queue.turn("t") as got:
            assert got
            holding.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    holding.wait(5)
    started = time.monotonic()
    with queue.turn("t") as got:
        waited = time.monotonic() - started
    assert got is False
    assert 0.15 < waited < 5
    release.set()
    t.join()
    assert len(queue) == 0
    with queue.turn("t") as got:  # and the key's turn works again afterwards
        assert got is True
