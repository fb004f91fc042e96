"""Small tables: kept decoded in the workers' memory after the first read, and queried in one partition."""

from __future__ import annotations

import os

import pyarrow as pa
from pyiceberg.types import LongType, StringType

from query_gateway.decoded_files import SMALL_FILE_ROWS
from query_gateway.engine import SMALL_SCAN_BYTES, target_partitions
from tests.conftest import RunningCatalog
from tests.gateway.conftest import RunningGateway

NO_CACHE = {"Cache-Control": "no-cache"}
SCHEMA = pa.schema([("id", pa.int32()), ("name", pa.string())])


def _scan(gateway: RunningGateway, query: str, table: str) -> tuple[list, dict]:
    """Rows and the scan stats of ``table`` (no result cache), repeated until a worker answers from memory.

    The pool gives queries to whichever worker is free, so a worker may meet the files for
    the first time on any repetition: the query is repeated until every file it scanned
    came from memory, or a generous number of times (then the last answer is returned).
    """
    for _ in range(8 * gateway.settings.gateway.query_workers):
        response = gateway.sql(query, headers=NO_CACHE)
        assert response.status_code == 200, response.text
        scan = response.json()["stats"]["tables"][table]
        if scan["files_scanned"] and scan["files_in_memory"] == scan["files_scanned"]:
            break
    return response.json()["rows"], scan


def test_small_files_are_read_from_memory_and_large_ones_from_parquet(
    gateway: RunningGateway, lake: RunningCatalog
) -> None:
    small = lake.catalog.create_table("marts.small_dimension", schema=SCHEMA)
    small.append(pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]}, schema=SCHEMA))
    rows, scan = _scan(
        gateway, "SELECT id, name FROM marts.small_dimension WHERE id >= 2 ORDER BY id", "marts.small_dimension"
    )
    assert rows == [[2, "b"], [3, "c"]]
    assert scan["files_scanned"] == scan["files_in_memory"] == 1

    large = lake.catalog.create_table("marts.large_fact", schema=SCHEMA)
    count = SMALL_FILE_ROWS + 1
    large.append(pa.table({"id": range(count), "name": ["x"] * count}, schema=SCHEMA))
    rows, scan = _scan(gateway, "SELECT COUNT(*), MAX(id) FROM marts.large_fact", "marts.large_fact")
    assert rows == [[count, count - 1]]
    assert scan["files_scanned"] == 1 and scan["files_in_memory"] == 0


def test_files_kept_in_memory_follow_schema_changes(gateway: RunningGateway, lake: RunningCatalog) -> None:
    table = lake.catalog.create_table("marts.small_evolving", schema=SCHEMA)
    table.append(pa.table({"id": [1, 2], "name": ["a", "b"]}, schema=SCHEMA))
    rows, scan = _scan(gateway, "SELECT * FROM marts.small_evolving ORDER BY id", "marts.small_evolving")
    assert rows == [[1, "a"], [2, "b"]] and scan["files_in_memory"] == 1
    # The file kept in memory was decoded under the old schema: a new column and a wider type read it again.
    with table.update_schema() as update:
        update.add_column("note", StringType())
        update.update_column("id", LongType())
    table = lake.catalog.load_table("marts.small_evolving")
    wider = pa.schema([("id", pa.int64()), ("name", pa.string()), ("note", pa.string())])
    table.append(pa.table({"id": [3_000_000_000], "name": ["c"], "note": ["new"]}, schema=wider))
    response = gateway.sql("SELECT id, name, note FROM marts.small_evolving ORDER BY id", headers=NO_CACHE)
    assert response.status_code == 200, response.text
    assert response.json()["rows"] == [[1, "a", None], [2, "b", None], [3_000_000_000, "c", "new"]]


def test_a_join_of_small_tables_runs_in_one_partition(gateway: RunningGateway) -> None:
    plan = gateway.sql(
        "EXPLAIN SELECT p.project_name, k.amount FROM marts.key_metrics_by_project_v0 k "
        "JOIN marts.projects_v1 p ON p.project_id = k.project_id ORDER BY k.amount DESC LIMIT 3",
        headers=NO_CACHE,
    ).json()["rows"]
    physical = next(text for kind, text in plan if kind == "physical_plan")
    assert "HashJoinExec" in physical and "RepartitionExec" not in physical, physical
    # A large scan gets the worker's share of the cores.
    cores = len(os.sched_getaffinity(0))
    assert target_partitions(SMALL_SCAN_BYTES - 1, workers=1) == 1
    assert target_partitions(SMALL_SCAN_BYTES, workers=1) == cores
    assert target_partitions(SMALL_SCAN_BYTES, workers=2 * cores) == 1
