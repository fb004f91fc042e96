"""Fixtures of the operations tests: the BigQuery emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.operations.bigquery_emulator import BigQueryEmulator, start_emulator


@pytest.fixture(scope="module")
def bq_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryEmulator]:
    """A bqemulator server for the tests of one module."""
    emulator = start_emulator(tmp_path_factory.mktemp("bqemulator"))
    try:
        yield emulator
    finally:
        emulator.stop()
