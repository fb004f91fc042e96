"""The deployment files in infra/ parse, validate with their own tools, and name real settings."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import yaml
from pydantic import BaseModel

from commonlake.settings import ENV_PREFIX, Settings

INFRA = Path(__file__).resolve().parents[2] / "infra"
REPO = INFRA.parent
PG_ADMIN = "dbname=postgres user=postgres host=127.0.0.1 port=5432"


def setting_exists(variable: str) -> bool:
    """Whether a COMMONLAKE_A__B variable names a field of Settings (extra="ignore" would hide a typo)."""
    parts = variable.removeprefix(ENV_PREFIX).lower().split("__")
    model: type[BaseModel] = Settings
    for index, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if index < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def env_file(path: Path) -> dict[str, str]:
    pairs = [line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {key: value for key, value in pairs}


def test_setting_exists_catches_typos() -> None:
    assert setting_exists("COMMONLAKE_CATALOG__DATABASE_URL")
    assert not setting_exists("COMMONLAKE_CATALOG__DATABASE_URI")
    assert not setting_exists("COMMONLAKE_STORAGE__S3_ENDPOINT__X")


def test_haproxy_config_validates_with_haproxy() -> None:
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    config = INFRA / "catalog" / "haproxy.cfg"
    env = {
        **os.environ,
        "COMMONLAKE_LB_BIND": "127.0.0.1:18182",
        "COMMONLAKE_REPLICA_1": "127.0.0.1:18191",
        "COMMONLAKE_REPLICA_2": "127.0.0.1:18192",
    }
    checked = subprocess.run([haproxy, "-c", "-f", str(config)], env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    unset = subprocess.run([haproxy, "-c", "-f", str(config)], capture_output=True, text=True)
    assert unset.returncode != 0, "without the replica addresses the config must not validate"


def test_systemd_unit_verifies_and_its_environment_names_real_settings(tmp_path: Path) -> None:
    variables = env_file(INFRA / "catalog" / "systemd" / "commonlake-catalog.env")
    assert variables and all(setting_exists(name) for name in variables), variables
    settings = Settings(_env_file=INFRA / "catalog" / "systemd" / "commonlake-catalog.env")
    assert settings.catalog_database_url.startswith("postgresql+psycopg2://")
    assert settings.warehouse_location.startswith("s3://")

    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (INFRA / "catalog" / "systemd" / "commonlake-catalog@.service").read_text()
    # Point the unit at this checkout's real paths, as an install would.
    unit = unit.replace("/opt/commonlake/.venv/bin/commonlake", str(Path(sys.executable).parent / "commonlake"))
    unit = unit.replace("/etc/commonlake/commonlake-catalog.env", str(INFRA / "catalog/systemd/commonlake-catalog.env"))
    (tmp_path / "commonlake-catalog@.service").write_text(unit)
    verified = subprocess.run(
        [analyze, "verify", "--man=no", "commonlake-catalog@8191.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0 and "error" not in verified.stderr.lower(), verified.stderr
    (tmp_path / "broken@.service").write_text(unit.replace("ExecStart=/", "ExecStart=relative/"))
    broken = subprocess.run(
        [analyze, "verify", "--man=no", "broken@8191.service"], cwd=tmp_path, capture_output=True, text=True
    )
    assert broken.returncode != 0, "systemd-analyze really checks the unit"


def test_compose_file_wires_replicas_database_and_load_balancer() -> None:
    compose = yaml.safe_load((INFRA / "catalog" / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [services["catalog-1"], services["catalog-2"]]
    assert replicas[0]["environment"] == replicas[1]["environment"], "replicas share one database and warehouse"
    environment = replicas[0]["environment"]
    assert all(setting_exists(name) for name in environment), environment
    assert "@postgres:5432/" in environment["COMMONLAKE_CATALOG__DATABASE_URL"]
    assert "${COMMONLAKE_DB_PASSWORD}" in environment["COMMONLAKE_CATALOG__DATABASE_URL"], "no secret in the file"
    balancer = services["catalog"]
    used = set(re.findall(r"\$\{(\w+)\}", (INFRA / "catalog" / "haproxy.cfg").read_text()))
    assert used == set(balancer["environment"]), "the balancer gets every variable haproxy.cfg uses"
    targets = {value.split(":")[0] for key, value in balancer["environment"].items() if key.startswith("COMMONLAKE_R")}
    assert targets == {"catalog-1", "catalog-2"}
    mounted = balancer["volumes"][0].split(":")[0]
    assert (INFRA / "catalog" / mounted).resolve() == (INFRA / "catalog" / "haproxy.cfg").resolve()


@pytest.fixture
def dagster_database() -> Iterator[str]:
    try:
        admin = psycopg2.connect(PG_ADMIN, connect_timeout=3)
    except psycopg2.OperationalError:
        pytest.skip("PostgreSQL is not running at 127.0.0.1:5432")
    admin.autocommit = True
    name = f"commonlake_dagster_{uuid.uuid4().hex[:10]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_dagster_instance_and_workspace_load(dagster_database: str, tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(INFRA / "dagster" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("COMMONLAKE_")},
        "DAGSTER_HOME": str(home),
        "DAGSTER_PG_URL": dagster_database,
        "COMMONLAKE_DATA_DIR": str(tmp_path / "lake"),
        "SQLMESH__DISABLE_ANONYMIZED_ANALYTICS": "1",
    }
    probe = (
        "from dagster import DagsterInstance\n"
        "instance = DagsterInstance.get()\n"
        "storage, coordinator = type(instance.run_storage), type(instance.run_coordinator)\n"
        "print(storage.__name__, coordinator.__name__, len(instance.get_runs()))\n"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == ["PostgresRunStorage", "QueuedRunCoordinator", "0"]

    validated = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(INFRA / "dagster" / "workspace.yaml")],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "commonlake" in validated.stdout + validated.stderr
