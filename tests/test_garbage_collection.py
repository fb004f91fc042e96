"""Fewer garbage collections during a run, and the process's own settings afterwards."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from commonlake.garbage_collection import RUN_THRESHOLDS, fewer_collections


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[None]:
    previous = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*previous)


def test_inside_a_run_the_young_generation_is_collected_less_often() -> None:
    collections: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    def churn() -> None:
        for _ in range(100_000):
            node: dict = {}
            node["self"] = node  # a cycle, as sqlglot trees link to their parents

    gc.callbacks.append(count)
    try:
        churn()
        by_default = len(collections)
        collections.clear()
        with fewer_collections():
            assert gc.get_threshold() == RUN_THRESHOLDS
            churn()
        during_run = len(collections)
    finally:
        gc.callbacks.remove(count)
    assert by_default >= 100
    assert during_run <= by_default / 20
    assert gc.get_threshold() == (700, 10, 10)


def test_the_thresholds_come_back_after_a_failing_run() -> None:
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("a model failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_a_threshold_the_process_raised_is_not_lowered() -> None:
    gc.set_threshold(1_000_000, 10, 1_000)
    with fewer_collections():
        assert gc.get_threshold() == (1_000_000, 50, 1_000)
    assert gc.get_threshold() == (1_000_000, 10, 1_000)


def test_overlapping_runs_restore_the_thresholds_when_the_last_one_ends() -> None:
    """Runs in two threads, the first to start ending first: the process's thresholds come back at the end."""
    first_inside, second_inside, first_done = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, tuple[int, int, int]] = {}

    def first() -> None:
        with fewer_collections():
            first_inside.set()
            second_inside.wait(5)
        first_done.set()

    def second() -> None:
        first_inside.wait(5)
        with fewer_collections():
            second_inside.set()
            first_done.wait(5)
            seen["after the first ended"] = gc.get_threshold()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen["after the first ended"] == RUN_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)
