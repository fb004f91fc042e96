"""The `spark` gateway: staging and every metric on Spark equal DuckDB's numbers.

The same generated sample goes into two catalog servers; SQLMesh runs the same models on
DuckDB against one and on Spark 3.5 (Iceberg runtime, REST catalog) against the other, and
the physical tables must hold the same rows.
"""

from __future__ import annotations

import math
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ingestion.pipelines import load_gharchive, load_ossd
from ingestion.synthetic import SampleSpec, generate_sample
from sqlmesh_project.runner import make_context, physical_identifier, prepare_catalog
from tests.conftest import make_settings, start_catalog

SPEC = SampleSpec(seed=8, projects=4, collections=2, days=2, events_per_hour=10, start=date(2025, 9, 1))
MODELS = [
    "staging.stg_ossd__projects",
    "staging.stg_github__events",
    "intermediate.int_events__github",
    # every metric, for artifacts and projects daily and collections over all time
    "metrics.timeseries_to_artifact_daily",
    "metrics.timeseries_to_project_daily",
    "marts.key_metrics_by_collection_v0",
]


def _run(settings, catalog) -> dict[str, list[tuple]]:
    """Plan the models (and what they read) on the settings' gateway; their rows, sorted."""
    prepare_catalog(catalog, settings)
    context = make_context(settings)
    try:
        context.plan(
            "prod",
            select_models=[f"+{m}" for m in MODELS],
            execution_time="2025-09-03",
            auto_apply=True,
            no_prompts=True,
        )
        tables = {}
        for model in MODELS:
            table = catalog.load_table(physical_identifier(context, model, settings)).scan().to_arrow()
            table = table.drop_columns([c for c in table.column_names if c in ("payload",)])
            tables[model] = sorted(tuple(_comparable(v) for v in row.values()) for row in table.to_pylist())
        return tables
    finally:
        context.close()


def _comparable(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    if isinstance(value, float):
        return round(value, 9)
    return value


@pytest.mark.slow
def test_spark_computes_the_same_models_as_duckdb(tmp_path: Path) -> None:
    manifest = generate_sample(tmp_path / "sample", SPEC)
    results = {}
    for gateway in ("local", "spark"):
        settings = make_settings(tmp_path / gateway, models={"start": SPEC.start.isoformat(), "gateway": gateway})
        running = start_catalog(settings)
        try:
            load_ossd(running.catalog, manifest.ossd_dir)
            load_gharchive(running.catalog, manifest.start, manifest.end, manifest.gharchive_dir)
            results[gateway] = _run(settings, running.catalog)
        finally:
            running.server.stop()
    assert "pyspark" not in sys.modules or results  # (the local gateway never needed it)
    for model in MODELS:
        duck, spark = results["local"][model], results["spark"][model]
        assert len(duck) > 0, model
        assert len(spark) == len(duck), model
        for a, b in zip(duck, spark, strict=True):
            for x, y in zip(a, b, strict=True):
                assert x == y or (isinstance(x, float) and math.isclose(x, y, rel_tol=1e-9)), (model, a, b)
