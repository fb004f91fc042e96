"""S3 mode: the whole demo path with the warehouse in a real S3 server (SeaweedFS), and no secret leaks."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from rich.console import Console

from catalog.auth.secrets import hash_secret
from commonlake.demo import DemoResult, run_demo
from commonlake.seaweedfs import SeaweedFS
from commonlake.settings import Settings
from ingestion.synthetic import SampleSpec
from tests.conftest import make_settings, start_catalog

SPEC = SampleSpec(seed=5, projects=8, days=2, events_per_hour=30, start=date(2025, 9, 1))


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@dataclass
class S3Demo:
    """One demo run on S3: its result, its data directory and everything it printed."""

    result: DemoResult
    data_dir: Path
    console_output: str


@pytest.fixture(scope="module")
def s3_demo(seaweed: SeaweedFS, tmp_path_factory: pytest.TempPathFactory) -> S3Demo:
    data_dir = tmp_path_factory.mktemp("s3-demo") / "lake"
    settings = Settings(data_dir=data_dir).with_updates(**seaweed.settings_changes("lake"))
    printed = io.StringIO()
    result = run_demo(settings, SPEC, console=Console(file=printed, width=200))
    return S3Demo(result, data_dir, printed.getvalue())


def _objects(server: SeaweedFS, prefix: str) -> list[str]:
    client = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return keys


def test_demo_path_runs_on_s3(seaweed: SeaweedFS, s3_demo: S3Demo, tmp_path: Path) -> None:
    result = s3_demo.result
    assert result.top_projects["rows"], "the gateway answered over S3-resident tables"
    keys = _objects(seaweed, "lake/")
    assert any(k.endswith(".parquet") and "/raw/github_events" in k for k in keys)
    assert any(k.endswith(".metadata.json") and "/marts/" in k for k in keys)
    # Nothing of the warehouse landed on local disk.
    warehouse = s3_demo.data_dir / "warehouse"
    assert not warehouse.exists() or not any(warehouse.rglob("*.parquet"))

    # PyIceberg, through a fresh catalog server, reads the same counts from S3.
    running = start_catalog(make_settings(s3_demo.data_dir).with_updates(**seaweed.settings_changes("lake")))
    try:
        for name, count in {**result.raw_counts, **result.mart_counts}.items():
            assert running.catalog.load_table(name).scan().to_arrow().num_rows == count, name
        assert result.raw_counts["raw.github_events"] > 0
    finally:
        running.server.stop()


def test_the_s3_secret_appears_in_no_log_no_output_and_no_anonymous_response(
    seaweed: SeaweedFS, s3_demo: S3Demo, tmp_path: Path
) -> None:
    secret = seaweed.secret_key
    assert secret not in s3_demo.console_output
    logs = [p for p in (s3_demo.data_dir / "logs").rglob("*") if p.is_file()] + [seaweed.data_dir / "weed.log"]
    assert len(logs) >= 3, logs
    for log in logs:
        assert secret not in log.read_text(errors="replace"), f"the S3 secret is in {log}"

    # A catalog with auth on and anonymous reads allowed, on the same warehouse.
    auth = {
        "enabled": True,
        "anonymous_read": True,
        "principals": {"pipeline": {"secret_hash": hash_secret("pipeline-secret"), "roles": {"*": "writer"}}},
    }
    settings = (
        make_settings(s3_demo.data_dir)
        .with_updates(**seaweed.settings_changes("lake"))
        .with_updates(catalog={"auth": auth, "credential": "pipeline:pipeline-secret"})
    )
    running = start_catalog(settings)
    try:
        base = running.uri
        anonymous = [
            httpx.get(f"{base}/v1/config"),
            httpx.get(f"{base}/v1/config", params={"warehouse": "commonlake"}),
            httpx.get(f"{base}/v1/commonlake/namespaces/raw/tables/github_events"),
            httpx.get(f"{base}/v1/commonlake/namespaces/raw/tables/github_events/credentials"),
            httpx.get(f"{base}/v1/commonlake/namespaces/raw/tables/no_such_table"),
            httpx.post(f"{base}/v1/commonlake/namespaces", content=b"{not json"),
            httpx.post(f"{base}/v1/oauth/tokens", data={"grant_type": "client_credentials", "client_id": "x"}),
        ]
        assert anonymous[0].status_code == 200 and anonymous[2].status_code == 200
        assert {r.status_code for r in anonymous[4:]} - {400, 401, 403, 404, 422} == set()
        for response in anonymous:
            assert secret not in response.text, f"{response.request.method} {response.request.url} leaks the secret"
        # Authenticated principals do get the storage credentials they need (vended by the catalog).
        table = running.catalog.load_table("raw.github_events")
        assert table.io.properties.get("s3.secret-access-key") == secret
    finally:
        running.server.stop()
    for log in (s3_demo.data_dir / "logs").rglob("*"):
        assert secret not in log.read_text(errors="replace"), f"the S3 secret is in {log}"
