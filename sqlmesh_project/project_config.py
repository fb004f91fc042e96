"""The SQLMesh configuration of Commonlake, built from the one settings object.

One gateway per config: each gateway's engine-specific module is imported only when that
gateway is built, so a local DuckDB run never imports (or starts) Spark, and a Spark
gateway in the config never slows down local commands (FINDINGS: +3 s per command).

* ``local``: DuckDB with the REST catalog attached; physical tables in the catalog, the
  virtual layer's views in a local DuckDB file, state in another.
* ``spark``: Spark 3.5 + the Iceberg runtime on the same REST catalog; tables and views all
  in the catalog; state in a local DuckDB file.
* ``trino``: Trino's Iceberg connector (``infra/trino/commonlake.properties``) on the same
  REST catalog; state in PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlmesh.core.config import (
    Config,
    DuckDBConnectionConfig,
    GatewayConfig,
    ModelDefaultsConfig,
)

from commonlake.duckdb_attach import secret_statements
from commonlake.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parent
# Every engine works in UTC so that CAST(timestamp AS DATE) means the same day everywhere.
SESSION_TIME_ZONE = "UTC"
UNIT_TESTS = "tests/*.yaml"  # SQLMesh's YAML unit tests, as an ignore pattern


def state_dir(settings: Settings) -> Path:
    """Where SQLMesh keeps its state and the local virtual-layer database."""
    path = settings.resolved_data_dir / "sqlmesh"
    path.mkdir(parents=True, exist_ok=True)
    return path


def duckdb_state(settings: Settings, name: str = "state.duckdb") -> DuckDBConnectionConfig:
    """SQLMesh state in a DuckDB file of the data directory."""
    return DuckDBConnectionConfig(database=str(state_dir(settings) / name), concurrent_tasks=1)


def local_gateway(settings: Settings) -> GatewayConfig:
    """DuckDB engine; physical tables in the REST catalog; views and state in local DuckDB files."""
    from sqlmesh_project.engines.duckdb_iceberg import IcebergAttachOptions, IcebergDuckDBConnectionConfig

    directory = state_dir(settings)
    iceberg = IcebergAttachOptions(
        path=settings.catalog.warehouse,
        endpoint=settings.catalog_uri,
        secret="commonlake_catalog" if settings.catalog.credential else None,
        pyiceberg_properties=tuple(sorted(settings.rest_catalog_properties().items())),
        setup_statements=(*secret_statements(settings), f"SET TimeZone = '{SESSION_TIME_ZONE}'"),
    )
    return GatewayConfig(
        connection=IcebergDuckDBConnectionConfig(
            catalogs={settings.models.catalog_alias: iceberg, "local": str(directory / "local.duckdb")},
            register_comments=False,  # "Only ALTER TABLE is supported for Iceberg" on COMMENT ON
            concurrent_tasks=settings.models.concurrent_tasks,
        ),
        state_connection=DuckDBConnectionConfig(
            database=str(directory / "state.duckdb"), concurrent_tasks=settings.models.concurrent_tasks
        ),
        # SQLMesh unit tests run on an in-memory DuckDB, never on the catalog.
        test_connection=DuckDBConnectionConfig(concurrent_tasks=1),
    )


def spark_gateway(settings: Settings) -> GatewayConfig:
    """Spark 3.5 with the Iceberg runtime; every table and view in the REST catalog."""
    from sqlmesh_project.engines.spark_iceberg import IcebergSparkConnectionConfig, spark_config

    return GatewayConfig(
        connection=IcebergSparkConnectionConfig(config=spark_config(settings, SESSION_TIME_ZONE)),
        state_connection=duckdb_state(settings, "state-spark.duckdb"),
        test_connection=DuckDBConnectionConfig(concurrent_tasks=1),
    )


def trino_gateway(settings: Settings) -> GatewayConfig:
    """Trino's Iceberg connector on the REST catalog; SQLMesh state in PostgreSQL."""
    from sqlmesh.core.config import TrinoConnectionConfig

    models = settings.models
    return GatewayConfig(
        connection=TrinoConnectionConfig(
            host=models.trino_host,
            port=models.trino_port,
            user=models.trino_user,
            catalog=models.trino_catalog,
            http_scheme=models.trino_http_scheme,  # type: ignore[arg-type]
            timezone=SESSION_TIME_ZONE,
            concurrent_tasks=models.concurrent_tasks,
        ),
        # Trino cannot hold SQLMesh's state: PostgreSQL in production, a DuckDB file otherwise.
        state_connection=(
            postgres_state(models.state_database_url)
            if models.state_database_url
            else duckdb_state(settings, "state-trino.duckdb")
        ),
        test_connection=DuckDBConnectionConfig(concurrent_tasks=1),
    )


def postgres_state(url: str):  # -> PostgresConnectionConfig
    """SQLMesh's state connection for a ``postgresql://user:password@host:port/database`` URL."""
    from sqlmesh.core.config import PostgresConnectionConfig

    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg2") or not parts.path.strip("/"):
        raise ValueError(f"state_database_url must be postgresql://user@host:port/database, got {url!r}")
    return PostgresConnectionConfig(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        database=parts.path.strip("/"),
    )


GATEWAYS: dict[str, Callable[[Settings], GatewayConfig]] = {
    "local": local_gateway,
    "spark": spark_gateway,
    "trino": trino_gateway,
}
ENGINE_DIALECTS = {"local": "duckdb", "spark": "spark", "trino": "trino"}


def build_config(settings: Settings, unit_tests: bool = True) -> Config:
    """The SQLMesh Config for the gateway named in ``settings.models.gateway``.

    ``unit_tests=False`` leaves the YAML unit tests unloaded (parsing them is a third of a
    second or more): for a context that only runs unchanged models.
    """
    name = settings.models.gateway
    if name not in GATEWAYS:
        raise ValueError(f"Unknown SQLMesh gateway {name!r}; known: {sorted(GATEWAYS)}")
    # DuckDB cannot create views in an Iceberg catalog ("Not implemented Error: Create
    # View"), so its virtual layer's views go to the local DuckDB catalog. Spark and Trino
    # create them in the REST catalog.
    catalog_mapping = {".*": "local"} if name == "local" else {}
    return Config(
        gateways={name: GATEWAYS[name](settings)},
        default_gateway=name,
        model_defaults=ModelDefaultsConfig(dialect="duckdb", start=settings.models.start, cron="@daily"),
        environment_catalog_mapping=catalog_mapping,
        # SQLMesh otherwise maps every import of the Python models and macros to its
        # installed distribution on every plan (0.6 s of a daily run, scanning all package
        # metadata) to record requirements that only its cloud product reads.
        infer_python_dependencies=False,
        ignore_patterns=[*Config().ignore_patterns, *([] if unit_tests else [UNIT_TESTS])],
        variables={
            "marts_namespace": settings.models.marts_namespace,
            # The engine the SQL runs on: @entity_id spells SHA-256 for it.
            "engine_dialect": ENGINE_DIALECTS[name],
        },
    )
