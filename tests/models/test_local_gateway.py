"""The `local` gateway never imports Spark, and the SQLMesh unit tests pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlmesh import Context

from commonlake.settings import Settings
from sqlmesh_project.project_config import PROJECT_DIR, build_config


def test_a_local_run_never_imports_pyspark(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from commonlake.settings import Settings\n"
        "from sqlmesh_project.project_config import build_config\n"
        f"build_config(Settings(data_dir={str(tmp_path)!r}))\n"
        "from sqlmesh_project.engines import duckdb_iceberg\n"
        "assert 'pyspark' not in sys.modules, 'pyspark imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_an_unknown_gateway_is_refused(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(ValueError, match="Unknown SQLMesh gateway 'bigquery'"):
        build_config(Settings(data_dir=tmp_path).with_updates(models={"gateway": "bigquery"}))


def test_sqlmesh_unit_tests_pass(tmp_path: Path) -> None:
    context = Context(paths=[str(PROJECT_DIR)], config=build_config(Settings(data_dir=tmp_path)))
    try:
        result = context.test()
    finally:
        context.close()
    assert result.testsRun >= 13
    assert result.wasSuccessful(), [str(e) for e in result.failures + result.errors]


def test_contexts_on_two_catalogs_never_share_an_attach(tmp_path: Path) -> None:
    """Two catalogs with the same warehouse name (two nodes) get their own DuckDB adapters."""
    first = Settings(data_dir=tmp_path / "a").with_updates(catalog={"port": 18301})
    second = Settings(data_dir=tmp_path / "b").with_updates(catalog={"port": 18302})
    assert first.catalog.warehouse == second.catalog.warehouse

    def adapter(settings: Settings):
        return build_config(settings).get_gateway().connection.create_engine_adapter()

    assert adapter(first) is not adapter(second)
    assert adapter(first) is adapter(first), "one catalog keeps sharing its adapter"
