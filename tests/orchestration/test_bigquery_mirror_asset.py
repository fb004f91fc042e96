"""A configured BigQuery mirror is an asset: it copies new rows into raw.<target> incrementally."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from commonlake.servers import free_port
from orchestration.ingestion_assets import build_bigquery_mirror_assets
from orchestration.resources import Lakehouse
from tests.conftest import RunningCatalog, make_settings, start_catalog
from tests.operations.bigquery_emulator import PROJECT, BigQueryEmulator, start_emulator

SOURCE = f"{PROJECT}.github.stars"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigQueryEmulator]:
    server = start_emulator(tmp_path_factory.mktemp("bqemulator"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[RunningCatalog]:
    running = start_catalog(make_settings(tmp_path / "lake"))
    try:
        yield running
    finally:
        running.server.stop()


def _append(emulator: BigQueryEmulator, ids: list[int]) -> None:
    from google.cloud import bigquery

    client = emulator.client()
    client.create_dataset(f"{PROJECT}.github", exists_ok=True)
    schema = [bigquery.SchemaField("id", "INT64"), bigquery.SchemaField("repo", "STRING")]
    client.create_table(bigquery.Table(SOURCE, schema=schema), exists_ok=True)
    data = pa.table({"id": pa.array(ids, pa.int64()), "repo": [f"repo-{i}" for i in ids]})
    buffer = io.BytesIO()
    pq.write_table(data, buffer)
    buffer.seek(0)
    config = bigquery.LoadJobConfig(source_format="PARQUET", write_disposition="WRITE_APPEND")
    client.load_table_from_file(buffer, SOURCE, job_config=config).result()


def test_the_mirror_asset_loads_new_rows_once(emulator: BigQueryEmulator, catalog: RunningCatalog) -> None:
    settings = catalog.settings.with_updates(
        ingestion=emulator.ingestion_settings(),
        orchestration={"bigquery_mirrors": [{"target": "gh_stars", "cursor": "id", "table": SOURCE}]},
    )
    [asset] = build_bigquery_mirror_assets(settings)
    assert asset.key == dg.AssetKey(["raw", "gh_stars"])
    resources = {"lakehouse": Lakehouse(settings)}

    _append(emulator, [1, 2, 3])
    assert dg.materialize([asset], resources=resources).success
    _append(emulator, [4, 5])
    second = dg.materialize([asset], resources=resources)
    assert second.success
    assert second.get_asset_materialization_events()[0].materialization.metadata["rows"].value == 2
    assert dg.materialize([asset], resources=resources).success, "nothing new: a no-op"
    rows = catalog.catalog.load_table("raw.gh_stars").scan().to_arrow()
    assert sorted(rows["id"].to_pylist()) == [1, 2, 3, 4, 5]


def test_an_unreachable_bigquery_fails_the_asset_clearly(catalog: RunningCatalog) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    settings = catalog.settings.with_updates(
        ingestion={"bigquery_project": PROJECT, "bigquery_api_endpoint": down, "bigquery_anonymous": True},
        orchestration={"bigquery_mirrors": [{"target": "gh_stars", "cursor": "id", "table": SOURCE}]},
    )
    result = dg.materialize(
        build_bigquery_mirror_assets(settings), resources={"lakehouse": Lakehouse(settings)}, raise_on_error=False
    )
    assert not result.success
    [failure] = [event for event in result.all_events if event.is_step_failure]
    assert "BigQuery mirror raw.gh_stars failed" in failure.step_failure_data.user_failure_data.description
