"""A warehouse in a real S3 server (SeaweedFS): PyIceberg's FileIO writes metadata there, purge empties it."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import httpx
import pyarrow as pa
import pytest
from botocore.config import Config

from commonlake.seaweedfs import SeaweedFS
from commonlake.settings import Settings
from tests.conftest import RunningCatalog, make_settings, start_catalog


@pytest.fixture(scope="module")
def s3_catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningCatalog, SeaweedFS]]:
    with SeaweedFS(tmp_path_factory.mktemp("weed")) as server:
        settings: Settings = make_settings(tmp_path_factory.mktemp("s3-lake")).with_updates(
            **server.settings_changes("catalog-test")
        )
        running = start_catalog(settings)
        try:
            yield running, server
        finally:
            running.server.stop()


def keys(server: SeaweedFS, prefix: str) -> list[str]:
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix=prefix)
    # SeaweedFS lists its filer's directories as keys ending in "/": those are not objects.
    return [obj["Key"] for page in pages for obj in page.get("Contents", []) if not obj["Key"].endswith("/")]


def test_tables_live_in_the_bucket_and_purge_removes_them(s3_catalog: tuple[RunningCatalog, SeaweedFS]) -> None:
    running, server = s3_catalog
    cat = running.catalog
    cat.create_namespace("s3ns")
    table = cat.create_table("s3ns.t", schema=pa.schema([("id", pa.int64())]))
    assert table.location().startswith(f"s3://{server.bucket}/catalog-test/s3ns/t-")
    table.append(pa.table({"id": [1, 2, 3]}))
    table.append(pa.table({"id": [4]}))
    assert sorted(cat.load_table("s3ns.t").scan().to_arrow()["id"].to_pylist()) == [1, 2, 3, 4]

    prefix = table.location().split(f"s3://{server.bucket}/", 1)[1]
    stored = keys(server, prefix)
    assert sum(k.endswith(".metadata.json") for k in stored) == 3 and any(k.endswith(".parquet") for k in stored)

    # Locations outside the warehouse prefix (another bucket or prefix) are refused.
    base = running.uri + "/v1/commonlake/namespaces/s3ns"
    schema = {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "x", "required": False, "type": "long"}]}
    for location in (f"s3://{server.bucket}/elsewhere/t", "s3://another-bucket/t"):
        response = httpx.post(f"{base}/tables", json={"name": "x", "schema": schema, "location": location})
        assert response.status_code == 403, response.text

    cat.purge_table("s3ns.t")
    assert keys(server, prefix) == []
