"""Spark 3.5 with the Iceberg 1.10 runtime attaches over REST: tables, views, OAuth2; PyIceberg reads back.

One JVM for the module, with three REST catalogs configured in it: a catalog server on
SQLite, one on PostgreSQL, and one with auth on (Spark then gets its token with the
client-credentials flow).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from catalog.auth.secrets import hash_secret
from tests.catalog.conftest import ScratchDatabase, catalog_settings
from tests.conftest import SPARK_DRIVER_MEMORY, RunningCatalog, start_catalog

pytestmark = pytest.mark.slow

RUNTIME_JAR = "iceberg-spark-runtime-3.5_2.12-1.10.2.jar"


def runtime_jar() -> Path:
    import snowpark_connect_deps_iceberg

    return Path(snowpark_connect_deps_iceberg.__file__).resolve().parent / "jars" / RUNTIME_JAR


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningCatalog]]:
    databases: list[ScratchDatabase] = []
    running: dict[str, RunningCatalog] = {}
    try:
        running["lite"] = start_catalog(catalog_settings(tmp_path_factory.mktemp("spark-lite"), None))
        try:
            databases.append(ScratchDatabase.create())
            running["pg"] = start_catalog(catalog_settings(tmp_path_factory.mktemp("spark-pg"), databases[0].url))
        except pytest.skip.Exception:
            pass  # PostgreSQL unreachable: the SQLite and auth catalogs still run
        auth = {
            "enabled": True,
            "principals": {"spark": {"secret_hash": hash_secret("s3cr3t"), "roles": {"*": "writer"}}},
        }
        secure = catalog_settings(tmp_path_factory.mktemp("spark-auth"), None, auth=auth, credential="spark:s3cr3t")
        running["secure"] = start_catalog(secure)
        yield running
    finally:
        for server in running.values():
            server.server.stop()
        for db in databases:
            db.drop()


@pytest.fixture(scope="module")
def spark(servers: dict[str, RunningCatalog]):
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master("local[1]")
        .appName("commonlake-catalog-test")
        .config("spark.driver.memory", SPARK_DRIVER_MEMORY)
        .config("spark.jars", str(runtime_jar()))
        .config("spark.sql.extensions", "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
    )
    for alias, server in servers.items():
        prefix = f"spark.sql.catalog.{alias}"
        builder = (
            builder.config(prefix, "org.apache.iceberg.spark.SparkCatalog")
            .config(f"{prefix}.type", "rest")
            .config(f"{prefix}.uri", server.uri)
            .config(f"{prefix}.warehouse", "commonlake")
            .config(f"{prefix}.cache-enabled", "false")
        )
        if server.settings.catalog.credential:
            builder = builder.config(f"{prefix}.credential", server.settings.catalog.credential.get_secret_value())
            builder = builder.config(f"{prefix}.oauth2-server-uri", server.uri + "/v1/oauth/tokens")
            builder = builder.config(f"{prefix}.scope", "PRINCIPAL_ROLE:ALL")
    session = builder.getOrCreate()
    try:
        yield session
    finally:
        session.stop()


@pytest.mark.parametrize("alias", ["lite", "pg", "secure"])
def test_spark_creates_inserts_reads_and_pyiceberg_reads_back(spark, servers, alias: str) -> None:
    if alias not in servers:
        pytest.skip("PostgreSQL is unreachable")
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {alias}.sparkns")
    spark.sql(f"CREATE TABLE {alias}.sparkns.events (id BIGINT, kind STRING) USING iceberg PARTITIONED BY (kind)")
    spark.sql(f"INSERT INTO {alias}.sparkns.events VALUES (1, 'push'), (2, 'fork'), (3, 'push')")
    spark.sql(f"INSERT INTO {alias}.sparkns.events VALUES (4, 'star')")
    counts = spark.sql(f"SELECT kind, count(*) AS n FROM {alias}.sparkns.events GROUP BY kind ORDER BY kind").collect()
    assert [(r.kind, r.n) for r in counts] == [("fork", 1), ("push", 2), ("star", 1)]

    # PyIceberg reads Spark's table, then writes to it; Spark sees PyIceberg's rows.
    table = servers[alias].catalog.load_table("sparkns.events")
    assert sorted(table.scan().to_arrow()["id"].to_pylist()) == [1, 2, 3, 4]
    assert table.spec().fields[0].name == "kind" and len(table.metadata.snapshots) == 2
    table.append(pa.table({"id": [5], "kind": ["issue"]}, schema=table.schema().as_arrow()))
    assert spark.sql(f"SELECT count(*) AS n FROM {alias}.sparkns.events").collect()[0].n == 5

    spark.sql(f"DELETE FROM {alias}.sparkns.events WHERE id = 1")
    assert sorted(servers[alias].catalog.load_table("sparkns.events").scan().to_arrow()["id"].to_pylist()) == [
        2,
        3,
        4,
        5,
    ]


def test_spark_views_create_replace_rename_drop(spark, servers) -> None:
    cat = servers["lite"].catalog
    spark.sql("CREATE NAMESPACE IF NOT EXISTS lite.views")
    spark.sql("CREATE TABLE lite.views.base (id BIGINT) USING iceberg")
    spark.sql("INSERT INTO lite.views.base VALUES (1), (2), (3)")
    spark.sql("CREATE VIEW lite.views.big AS SELECT id FROM lite.views.base WHERE id > 1")
    assert spark.sql("SELECT count(*) AS n FROM lite.views.big").collect()[0].n == 2
    first = cat.load_view("views.big")
    assert "id > 1" in first.metadata.versions[0].representations[0].root.sql

    spark.sql("CREATE OR REPLACE VIEW lite.views.big AS SELECT id FROM lite.views.base WHERE id > 2")
    assert spark.sql("SELECT count(*) AS n FROM lite.views.big").collect()[0].n == 1
    replaced = cat.load_view("views.big").metadata
    assert replaced.view_uuid == first.metadata.view_uuid and len(replaced.versions) == 2

    spark.sql("ALTER VIEW lite.views.big RENAME TO lite.views.bigger")
    assert cat.view_exists("views.bigger") and not cat.view_exists("views.big")
    assert {r.viewName for r in spark.sql("SHOW VIEWS IN lite.views").collect()} == {"bigger"}
    spark.sql("DROP VIEW lite.views.bigger")
    assert not cat.view_exists("views.bigger")

    log = (servers["lite"].settings.resolved_data_dir / "logs" / "catalog.log").read_text()
    assert "Traceback" not in log
