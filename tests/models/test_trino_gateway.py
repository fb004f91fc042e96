"""The `trino` gateway: every model renders in Trino's dialect; the config and its state are valid.

No Trino server runs here, so the SQL is checked by rendering (typed time macros, Trino
spellings of the hash) and by parsing it back as Trino SQL; the state connection is
checked against the real PostgreSQL server.
"""

from __future__ import annotations

import configparser
import hashlib
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlmesh import Context
from sqlmesh.core.renderer import QueryRenderer

from commonlake.parsed_sql import parse_duckdb
from commonlake.settings import Settings
from sqlmesh_project.project_config import PROJECT_DIR, build_config

REPO = Path(__file__).resolve().parents[2]
PROPERTIES = REPO / "infra" / "trino" / "commonlake.properties"
POSTGRES = "postgresql://postgres@127.0.0.1:5432"


def trino_settings(tmp_path: Path, state_url: str | None = None) -> Settings:
    return Settings(data_dir=tmp_path).with_updates(
        models={"gateway": "trino", "start": "2025-09-01", "state_database_url": state_url}
    )


@pytest.fixture(scope="module")
def trino_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    context = Context(paths=[str(PROJECT_DIR)], config=build_config(trino_settings(tmp_path_factory.mktemp("t"))))
    yield context
    context.close()


def test_the_trino_gateway_is_the_only_one_in_its_config(tmp_path: Path) -> None:
    config = build_config(trino_settings(tmp_path))
    assert list(config.gateways) == ["trino"]
    connection = config.gateways["trino"].connection
    assert connection.type_ == "trino" and connection.catalog == "commonlake"
    assert connection.timezone == "UTC"
    assert config.variables["engine_dialect"] == "trino"


def test_every_model_renders_as_valid_trino_sql(trino_context: Context) -> None:
    rendered = {}
    for name, model in trino_context.models.items():
        if model.kind.is_external or model.kind.is_seed:
            continue
        query = trino_context.render(model, start="2025-09-01", end="2025-09-07", execution_time="2025-09-08")
        sql = query.sql(dialect="trino")
        sqlglot.parse_one(sql, read="trino")  # Trino's grammar accepts it
        rendered[name] = sql
    assert len(rendered) >= 40  # staging … marts, and the metrics factory's 22 models
    for name, sql in rendered.items():
        # Never a bare string where a time is compared: typed casts only.
        assert not re.search(r"BETWEEN '\d{4}-\d{2}-\d{2}", sql), name
        assert "PERCENTILE_CONT" not in sql and "MEDIAN(" not in sql, name  # not exact / not Trino
        assert "SHA256(CONCAT" not in sql, name  # Trino's SHA256 takes varbinary


def test_metric_models_parse_their_generated_query_once_per_process(trino_context: Context) -> None:
    """SQLMesh re-creates a Python model's own functions for each render; the parse cache outlives them."""
    for name in ("metrics.timeseries_to_project_daily", "metrics.timeseries_to_project_daily"):
        before = parse_duckdb.cache_info()
        trino_context.render(name, start="2025-09-02", end="2025-09-02", execution_time="2025-09-03")
        after = parse_duckdb.cache_info()
        assert after.hits + after.misses > before.hits + before.misses, "the model renders through the cache"
    assert after.misses == before.misses, "the second render parses nothing"


@pytest.fixture
def rendered_models(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The models whose query SQLMesh renders from now on, in order."""
    rendered: list[str] = []
    render = QueryRenderer.render

    def recording(self: QueryRenderer, *args: object, **kwargs: object) -> object:
        rendered.append(self._model_fqn)
        return render(self, *args, **kwargs)

    monkeypatch.setattr(QueryRenderer, "render", recording)
    return rendered


def test_a_metric_mart_describes_its_columns_without_rendering(
    trino_context: Context, rendered_models: list[str]
) -> None:
    """SQLMesh reads a FULL model's column descriptions on every refresh, from its query's comments unless declared."""
    for name in ("marts.key_metrics_by_project_v0", "marts.metrics_v0", "marts.timeseries_metrics_by_project_v0"):
        model = trino_context.get_model(name)
        assert set(model.column_descriptions) == set(model.columns_to_types), name
    assert trino_context.get_model("marts.key_metrics_by_project_v0").column_descriptions["project_id"] == (
        "The project measured."
    )
    assert rendered_models == []


def test_time_filters_are_typed_for_trino(trino_context: Context) -> None:
    sql = trino_context.render("staging.stg_github__events", start="2025-09-01", end="2025-09-07").sql("trino")
    assert "CAST('2025-09-01 00:00:00+00:00' AS TIMESTAMP WITH TIME ZONE)" in sql
    assert "CAST('2025-09-07 23:59:59.999999+00:00' AS TIMESTAMP WITH TIME ZONE)" in sql
    sql = trino_context.render("metrics.timeseries_to_project_monthly", start="2025-09-01", end="2025-09-30").sql(
        "trino"
    )
    assert "CAST('2025-09-30' AS DATE)" in sql and "DATE_TRUNC('MONTH'" in sql


def test_entity_ids_use_trinos_hash_and_equal_duckdbs(trino_context: Context) -> None:
    sql = trino_context.render("staging.stg_ossd__projects").sql("trino")
    assert "LOWER(TO_HEX(SHA256(TO_UTF8(" in sql
    # The same concatenation hashed by DuckDB gives the id the unit tests expect.
    expected = hashlib.sha256(b"OSS_DIRECTORY|oso|acme-project").hexdigest()
    assert duckdb.sql("SELECT SHA256('OSS_DIRECTORY' || '|' || 'oso' || '|' || 'acme-project')").fetchone()[0] == (
        expected
    )


def test_the_trino_catalog_properties_match_the_settings() -> None:
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.read_string("[catalog]\n" + PROPERTIES.read_text())
    props = parser["catalog"]
    settings = Settings()
    assert props["connector.name"] == "iceberg"
    assert props["iceberg.catalog.type"] == "rest"
    assert props["iceberg.rest-catalog.warehouse"] == settings.catalog.warehouse
    assert props["iceberg.rest-catalog.uri"] == f"http://127.0.0.1:{settings.catalog.port}"
    assert props["iceberg.rest-catalog.view-endpoints-enabled"] == "true"
    assert PROPERTIES.stem == settings.models.trino_catalog


@pytest.mark.postgres
def test_sqlmesh_state_lives_in_postgresql(tmp_path: Path) -> None:
    import psycopg2

    database = f"commonlake_state_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(f"{POSTGRES}/test")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {database}")
    try:
        settings = trino_settings(tmp_path, f"{POSTGRES}/{database}")
        context = Context(paths=[str(PROJECT_DIR)], config=build_config(settings), load=False)
        try:
            assert context.state_sync.get_environments() == []  # creates SQLMesh's state tables
        finally:
            context.close()
        with psycopg2.connect(f"{POSTGRES}/{database}") as state:
            tables = {row[0] for row in _fetch(state, "SELECT table_name FROM information_schema.tables")}
        assert {"_snapshots", "_environments", "_intervals"} <= tables
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.close()


def test_a_bad_state_url_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="postgresql://"):
        build_config(trino_settings(tmp_path, "mysql://somewhere/db"))


def _fetch(connection, sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()
