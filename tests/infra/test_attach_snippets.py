"""The engine attach snippets in infra/ work as written against a live catalog (only the URI replaced)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from commonlake.duckdb_attach import load_iceberg_extensions
from tests.conftest import SPARK_DRIVER_MEMORY, RunningCatalog

INFRA = Path(__file__).resolve().parents[2] / "infra"
PLACEHOLDER_URI = "http://catalog.internal:8182"


@pytest.fixture(scope="module")
def events_table(module_catalog: RunningCatalog) -> RunningCatalog:
    catalog = module_catalog.catalog
    catalog.create_namespace_if_not_exists("snippets")
    table = catalog.create_table("snippets.events", schema=pa.schema([("id", pa.int64()), ("kind", pa.string())]))
    table.append(pa.table({"id": pa.array([1, 2, 3], pa.int64()), "kind": ["push", "star", "fork"]}))
    return module_catalog


def spark_properties(uri: str) -> dict[str, str]:
    """infra/spark/commonlake.conf as key → value, with the live catalog's URI and the jar's real path."""
    from sqlmesh_project.engines.spark_iceberg import iceberg_runtime_jar

    properties = {}
    for line in (INFRA / "spark" / "commonlake.conf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split(None, 1)
            properties[key] = value.strip().replace(PLACEHOLDER_URI, uri)
    assert Path(properties["spark.jars"]).name == iceberg_runtime_jar().name
    properties["spark.jars"] = str(iceberg_runtime_jar())
    return properties


def test_duckdb_snippet_attaches_and_reads(events_table: RunningCatalog) -> None:
    import duckdb

    sql = (INFRA / "duckdb" / "attach.sql").read_text().replace(PLACEHOLDER_URI, events_table.uri)
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    statements = [statement.strip() for statement in code.split(";") if statement.strip()]
    con = duckdb.connect()
    load_iceberg_extensions(con)  # INSTALL would download; the wheels carry the extensions
    for statement in statements:
        if not statement.upper().startswith(("INSTALL", "LOAD")):
            con.execute(statement)
    assert con.execute("SELECT COUNT(*), SUM(id) FROM commonlake.snippets.events").fetchone() == (3, 6)


@pytest.mark.slow
def test_spark_snippet_attaches_reads_and_writes(events_table: RunningCatalog) -> None:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master("local[1]").appName("commonlake-infra-snippet")
    builder = builder.config("spark.driver.memory", SPARK_DRIVER_MEMORY)
    for key, value in spark_properties(events_table.uri).items():
        builder = builder.config(key, value)
    # In-memory session catalog: no Hive metastore (metastore_db/, derby.log) in the working directory.
    builder = builder.config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
    builder = builder.config("spark.sql.catalogImplementation", "in-memory")
    spark = builder.getOrCreate()
    try:
        assert spark.sql("SELECT COUNT(*) FROM snippets.events").collect()[0][0] == 3, "defaultCatalog is commonlake"
        spark.sql("INSERT INTO commonlake.snippets.events VALUES (4, 'release')")
    finally:
        spark.stop()
    table = events_table.catalog.load_table("snippets.events")
    assert sorted(table.scan().to_arrow()["id"].to_pylist()) == [1, 2, 3, 4]
