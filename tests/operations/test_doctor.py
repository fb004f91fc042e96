"""``commonlake doctor`` against real servers, healthy and broken in each way it can be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from commonlake.seaweedfs import SeaweedFS
from commonlake.servers import ServerProcess, free_port
from commonlake.settings import Settings
from tests.conftest import make_settings, start_catalog

PG_ADMIN = "dbname=postgres user=postgres host=127.0.0.1 port=5432"


def doctor(settings: Settings) -> tuple[int, dict[str, dict], str]:
    """Run ``commonlake doctor --json``: exit code, results by part, raw output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMONLAKE_")}
    done = subprocess.run(
        [sys.executable, "-m", "commonlake", "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, **settings.to_env()},
    )
    results = {item["name"]: item for item in json.loads(done.stdout)}
    return done.returncode, results, done.stdout + done.stderr


@pytest.fixture(scope="module")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    with SeaweedFS(tmp_path_factory.mktemp("seaweedfs")) as server:
        yield server


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    try:
        admin = psycopg2.connect(PG_ADMIN, connect_timeout=3)
    except psycopg2.OperationalError:
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432")
    admin.autocommit = True
    name = f"commonlake_doctor_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_everything_healthy_on_postgres_and_s3(seaweed: SeaweedFS, postgres_url: str, tmp_path: Path) -> None:
    settings = (
        make_settings(tmp_path / "lake")
        .with_updates(catalog={"database_url": postgres_url})
        .with_updates(**seaweed.settings_changes("doctor"))
    )
    running = start_catalog(settings)
    gateway = ServerProcess("gateway", settings, settings.gateway.host, settings.gateway.port, tmp_path / "gateway.log")
    try:
        gateway.start()
        code, results, output = doctor(settings)
    finally:
        gateway.stop()
        running.server.stop()
    assert code == 0, output
    assert all(item["ok"] for item in results.values()), output
    assert set(results) == {"catalog", "object store", "database", "gateway"}
    assert "accepts connections" in results["database"]["detail"]
    assert seaweed.secret_key not in output


def test_catalog_and_gateway_down(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "lake")  # nothing listens on its free ports
    code, results, _ = doctor(settings)
    assert code == 1
    assert not results["catalog"]["ok"]
    assert "Nothing answers at" in results["catalog"]["detail"]
    assert "commonlake serve catalog" in results["catalog"]["fix"]
    assert not results["gateway"]["ok"] and "commonlake serve gateway" in results["gateway"]["fix"]
    assert results["object store"]["ok"] and results["database"]["ok"], "the other checks still ran"


def test_bad_s3_credentials_are_named_without_showing_them(seaweed: SeaweedFS, tmp_path: Path) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    changes = seaweed.settings_changes("doctor")
    changes["storage"]["s3_secret_access_key"] = wrong
    code, results, output = doctor(make_settings(tmp_path / "lake").with_updates(**changes))
    store = results["object store"]
    assert code == 1 and not store["ok"]
    assert "refused access" in store["detail"]
    assert "COMMONLAKE_STORAGE__S3_SECRET_ACCESS_KEY" in store["fix"]
    assert wrong not in output and seaweed.secret_key not in output

    changes["storage"]["s3_access_key_id"] = "nobody"
    _, results, _ = doctor(make_settings(tmp_path / "lake").with_updates(**changes))
    assert not results["object store"]["ok"] and "credentials" in results["object store"]["fix"]


def test_unreachable_object_store(tmp_path: Path) -> None:
    storage = {
        "warehouse_location": "s3://commonlake/warehouse",
        "s3_endpoint": f"http://127.0.0.1:{free_port()}",
        "s3_access_key_id": "a",
        "s3_secret_access_key": "b",
    }
    _, results, _ = doctor(make_settings(tmp_path / "lake", storage=storage))
    assert not results["object store"]["ok"]
    assert "is not reachable" in results["object store"]["detail"]


def test_unreachable_database_and_missing_database(tmp_path: Path) -> None:
    closed = f"postgresql+psycopg2://postgres:pw-{uuid.uuid4().hex}@127.0.0.1:{free_port()}/commonlake"
    code, results, output = doctor(make_settings(tmp_path / "lake").with_updates(catalog={"database_url": closed}))
    database = results["database"]
    assert code == 1 and not database["ok"]
    assert "Start the database server" in database["fix"]
    assert closed.split(":")[2].split("@")[0] not in output, "the password is masked"
    assert "***" in database["detail"]

    try:
        psycopg2.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg2.OperationalError:
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432")
    missing = f"postgresql+psycopg2://postgres@127.0.0.1:5432/absent_{uuid.uuid4().hex[:8]}"
    _, results, _ = doctor(make_settings(tmp_path / "lake").with_updates(catalog={"database_url": missing}))
    assert not results["database"]["ok"]
    assert "Create the database" in results["database"]["fix"]


def test_bigquery_export_dataset_is_checked_when_configured(bq_emulator, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "lake").with_updates(
        export=bq_emulator.export_settings("doctor_ds").model_dump()
    )
    _, results, _ = doctor(settings)
    check = results["bigquery export"]
    assert not check["ok"] and "does not exist" in check["detail"] and "--create-dataset" in check["fix"]

    bq_emulator.client().create_dataset("doctor_ds")
    _, results, _ = doctor(settings)
    assert results["bigquery export"]["ok"], results["bigquery export"]
