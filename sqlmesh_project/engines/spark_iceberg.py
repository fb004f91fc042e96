"""SQLMesh on Spark 3.5 with every table and view in the Commonlake Iceberg REST catalog.

Imported only by the ``spark`` gateway (it pulls in pyspark). The Iceberg runtime jar
comes from the ``snowpark-connect-deps-iceberg`` wheel, so no download is needed.
"""

from __future__ import annotations

import typing as t
from pathlib import Path

from sqlmesh.core.config.connection import SparkConnectionConfig
from sqlmesh.core.engine_adapter.shared import DataObject, DataObjectType
from sqlmesh.core.engine_adapter.spark import SparkEngineAdapter

from commonlake.settings import Settings

RUNTIME_JAR = "iceberg-spark-runtime-3.5_2.12-1.10.2.jar"
CATALOG_ALIAS_CONFIG = "spark.sql.catalog.{alias}"


def iceberg_runtime_jar() -> Path:
    """The Iceberg Spark runtime jar shipped in the snowpark-connect-deps-iceberg wheel."""
    import snowpark_connect_deps_iceberg

    jar = Path(snowpark_connect_deps_iceberg.__file__).resolve().parent / "jars" / RUNTIME_JAR
    if not jar.exists():
        raise FileNotFoundError(f"{jar} is missing: install snowpark-connect-deps-iceberg==1.0.2")
    return jar


def spark_config(settings: Settings, time_zone: str = "UTC") -> dict[str, str]:
    """Spark session configuration: the Iceberg runtime, the REST catalog as the default catalog."""
    prefix = CATALOG_ALIAS_CONFIG.format(alias=settings.models.catalog_alias)
    config = {
        "spark.master": settings.models.spark_master,
        "spark.driver.memory": settings.models.spark_driver_memory,
        "spark.jars": str(iceberg_runtime_jar()),
        "spark.sql.extensions": "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions",
        prefix: "org.apache.iceberg.spark.SparkCatalog",
        f"{prefix}.type": "rest",
        f"{prefix}.uri": settings.catalog_uri,
        f"{prefix}.warehouse": settings.catalog.warehouse,
        # Not the connection's `catalog` option: that fails with PARSE_SYNTAX_ERROR near 'ice'.
        "spark.sql.defaultCatalog": settings.models.catalog_alias,
        "spark.sql.session.timeZone": time_zone,
        "spark.sql.shuffle.partitions": "4",
        "spark.ui.enabled": "false",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
    }
    if settings.catalog.credential:
        config[f"{prefix}.credential"] = settings.catalog.credential.get_secret_value()
        config[f"{prefix}.oauth2-server-uri"] = settings.catalog_uri + "/v1/oauth/tokens"
    for key, value in settings.storage.fileio_properties().items():
        config[f"{prefix}.{key}"] = value
    if settings.storage.s3_endpoint:
        config[f"{prefix}.io-impl"] = "org.apache.iceberg.aws.s3.S3FileIO"
    return config


class IcebergSparkEngineAdapter(SparkEngineAdapter):
    """Spark adapter that lists Iceberg tables and views with SHOW TABLES / SHOW VIEWS."""

    def _get_data_objects(self, schema_name: t.Any, object_names: set[str] | None = None) -> list[DataObject]:
        # Spark 3.5 rejects SHOW TABLE EXTENDED on Iceberg (v2) tables and SQLMesh swallows
        # the error, so FULL models silently go stale (FINDINGS). SHOW TABLES lists tables
        # and views alike; SHOW VIEWS tells the views apart.
        from sqlglot import exp

        schema = exp.to_table(f"{schema_name}.x").args.get("db")
        schema_sql = f"{self.get_current_catalog()}.{schema.sql(dialect=self.dialect)}" if schema else ""
        try:
            tables = self.fetch_pyspark_df(f"SHOW TABLES IN {schema_sql}").collect()
        except Exception:  # the namespace does not exist yet
            return []
        try:
            views = {row["viewName"] for row in self.fetch_pyspark_df(f"SHOW VIEWS IN {schema_sql}").collect()}
        except Exception:
            views = set()
        catalog = self.get_current_catalog()
        wanted = {name.lower() for name in object_names} if object_names is not None else None
        objects = []
        for row in tables:
            row_dict = row.asDict()
            if row_dict.get("isTemporary"):
                continue
            name = row_dict["tableName"]
            if wanted is not None and name.lower() not in wanted:
                continue
            objects.append(
                DataObject(
                    catalog=catalog,
                    schema=row_dict.get("namespace") or row_dict.get("database"),
                    name=name,
                    type=DataObjectType.VIEW if name in views else DataObjectType.TABLE,
                )
            )
        return objects


class IcebergSparkConnectionConfig(SparkConnectionConfig):
    """Spark connection whose adapter knows the REST catalog holds Iceberg tables and views."""

    concurrent_tasks: int = 1

    @property
    def _engine_adapter(self) -> type[IcebergSparkEngineAdapter]:
        return IcebergSparkEngineAdapter
