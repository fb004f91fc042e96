"""BigQuery mirror against the real bqemulator server (REST + Storage Read gRPC), through the real clients."""

from __future__ import annotations

import datetime as dt

import pytest
from google.cloud import bigquery

from commonlake.servers import free_port
from ingestion.pipelines import load_bigquery
from ingestion.sources.bigquery import BigQueryMirror, bigquery_source
from ingestion.sources.gharchive import SourceError
from tests.conftest import RunningCatalog
from tests.ingestion.conftest import BigQueryEmulator, rows

T0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def insert(client: bigquery.Client, table: str, first: int, count: int) -> None:
    payload = [
        {"id": i, "name": f"project-{i}", "updated_at": (T0 + dt.timedelta(hours=i)).isoformat()}
        for i in range(first, first + count)
    ]
    assert client.insert_rows_json(table, payload, timeout=30) == []


@pytest.fixture
def source_table(bq_emulator: BigQueryEmulator, ns: str) -> tuple[bigquery.Client, str]:
    client = bigquery_source(bq_emulator.settings()).client
    dataset = f"{bq_emulator.project}.{ns}"
    client.create_dataset(dataset, exists_ok=True)
    schema = [
        bigquery.SchemaField("id", "INT64", mode="REQUIRED"),
        bigquery.SchemaField("name", "STRING"),
        bigquery.SchemaField("updated_at", "TIMESTAMP"),
    ]
    table = f"{dataset}.projects"
    client.create_table(bigquery.Table(table, schema=schema))
    return client, table


def test_table_mirror_is_incremental_by_cursor(
    module_catalog: RunningCatalog, bq_emulator: BigQueryEmulator, source_table: tuple, ns: str
) -> None:
    client, table = source_table
    source = bigquery_source(bq_emulator.settings())
    mirror = BigQueryMirror(target="projects", cursor="updated_at", table=table)
    catalog = module_catalog.catalog
    insert(client, table, 0, 50)

    first = load_bigquery(catalog, mirror, source, namespace=ns)
    assert (first.units_loaded, first.rows) == (1, 50)
    assert load_bigquery(catalog, mirror, source, namespace=ns).units_skipped == 1  # nothing new

    insert(client, table, 50, 20)
    second = load_bigquery(catalog, mirror, source, namespace=ns)
    assert second.rows == 20  # only the new window
    mirrored = rows(catalog, ns, "projects")
    assert sorted(r["id"] for r in mirrored) == list(range(70))
    assert mirrored[0]["updated_at"].tzinfo is not None
    units = {r["_source_unit"] for r in mirrored}
    assert len(units) == 2 and any(u.startswith("updated_at:(2025-01-03T01:00:00") for u in units)

    # A new source column becomes a new Iceberg column.
    client.query(f"ALTER TABLE `{table}` ADD COLUMN stars INT64").result()
    # (bqemulator's insertAll fails on a column added by ALTER TABLE; DML works.)
    client.query(
        f"INSERT INTO `{table}` (id, name, updated_at, stars) VALUES (70, 'p70', TIMESTAMP '2025-01-03 22:00:00+00', 5)"
    ).result(timeout=60)
    third = load_bigquery(catalog, mirror, source, namespace=ns)
    assert third.new_columns == ["stars"] and third.rows == 1
    by_id = {r["id"]: r for r in rows(catalog, ns, "projects")}
    assert by_id[70]["stars"] == 5 and by_id[0]["stars"] is None

    # A full refresh replaces everything, never duplicates.
    refreshed = load_bigquery(catalog, mirror, source, full_refresh=True, namespace=ns)
    assert refreshed.rows == 71 and len(rows(catalog, ns, "projects")) == 71


def test_query_mirror_and_a_crash_mid_window(
    module_catalog: RunningCatalog, bq_emulator: BigQueryEmulator, source_table: tuple, ns: str
) -> None:
    client, table = source_table
    staging = f"{bq_emulator.project}.{ns}_staging"
    client.create_dataset(staging, exists_ok=True)
    source = bigquery_source(bq_emulator.settings())
    mirror = BigQueryMirror(
        target="even_projects",
        cursor="id",
        query=f"SELECT id, name FROM `{table}` WHERE MOD(id, 2) = 0",
        staging_dataset=staging,
    )
    catalog = module_catalog.catalog
    insert(client, table, 0, 10)
    assert load_bigquery(catalog, mirror, source, namespace=ns).rows == 5

    insert(client, table, 10, 10)

    def crash(table_name: str, units: object) -> None:
        raise RuntimeError("killed mid-window")

    with pytest.raises(RuntimeError):
        load_bigquery(catalog, mirror, source, before_commit=crash, namespace=ns)
    iceberg = catalog.load_table((ns, "even_projects"))
    assert '"value": "8"' in iceberg.properties["commonlake.bigquery.cursor"]  # cursor not advanced
    assert len(rows(catalog, ns, "even_projects")) == 5  # no part of the window

    resumed = load_bigquery(catalog, mirror, source, namespace=ns)
    assert resumed.rows == 5
    assert sorted(r["id"] for r in rows(catalog, ns, "even_projects")) == list(range(0, 20, 2))
    assert list(client.list_tables(staging)) == []  # the staging table was dropped


def test_unreachable_bigquery_fails_clearly(module_catalog: RunningCatalog, bq_emulator: BigQueryEmulator) -> None:
    closed = free_port()
    source = bigquery_source(bq_emulator.settings(bigquery_api_endpoint=f"http://127.0.0.1:{closed}"))
    source.client._http.timeout = 2
    mirror = BigQueryMirror(target="x", cursor="id", table="commons.nowhere.x")
    with pytest.raises(SourceError, match="unreachable"):
        load_bigquery(module_catalog.catalog, mirror, source, namespace="t_unreachable")
    with pytest.raises(SourceError, match="exactly one"):
        BigQueryMirror(target="x", cursor="id")
