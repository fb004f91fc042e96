"""Small OSO-shaped marts built directly with PyIceberg, with values the tests can predict."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import pyarrow as pa
from pyiceberg.catalog import Catalog

PROJECTS = ("opensource-observer", "duckdb", "datafusion", "iceberg", "sqlmesh")
METRICS = ("commits", "stars", "active_developers")
PERIODS = ("daily", "monthly")
MONTHS = [dt.date(2025, m, 1) for m in range(1, 7)]


def entity_id(*parts: str) -> str:
    """The marts' ``@entity_id``: lower-hex SHA-256 of the parts joined by '|'."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def project_id(name: str) -> str:
    """``project_id`` of an oss-directory project."""
    return entity_id("OSS_DIRECTORY", "oso", name)


def metric_id(metric: str, period: str) -> str:
    """``metric_id`` of ``GITHUB_<metric>_<period>``."""
    return entity_id("OSO", "oso", f"GITHUB_{metric}_{period}")


def amount(project_index: int, metric_index: int, month_index: int) -> float:
    """The monthly value every test can recompute."""
    return float((project_index + 1) * 100 + (metric_index + 1) * 10 + month_index)


@dataclass
class FixtureMarts:
    """What was written, for expectations."""

    timeseries_files: int


def build_marts(catalog: Catalog, namespace: str = "marts") -> FixtureMarts:
    """Create projects_v1, metrics_v0, timeseries/key metrics by project (one data file per project)."""
    catalog.create_namespace_if_not_exists(namespace)
    projects = pa.table(
        {
            "project_id": [project_id(p) for p in PROJECTS],
            "project_source": ["OSS_DIRECTORY"] * len(PROJECTS),
            "project_namespace": ["oso"] * len(PROJECTS),
            "project_name": list(PROJECTS),
            "display_name": [p.replace("-", " ").title() for p in PROJECTS],
            "description": [f"The {p} project" for p in PROJECTS],
        }
    )
    _create(catalog, f"{namespace}.projects_v1", [projects])
    metric_rows = [(m, p) for m in METRICS for p in PERIODS]
    metrics = pa.table(
        {
            "metric_id": [metric_id(m, p) for m, p in metric_rows],
            "metric_source": ["OSO"] * len(metric_rows),
            "metric_namespace": ["oso"] * len(metric_rows),
            "metric_name": [f"GITHUB_{m}_{p}" for m, p in metric_rows],
            "display_name": [f"{m.replace('_', ' ').title()} ({p})" for m, p in metric_rows],
            "description": [f"{m} per {p}" for m, p in metric_rows],
            "rendered_sql": ["SELECT 1"] * len(metric_rows),
            "sql_source_path": [f"{m}.sql" for m, _ in metric_rows],
            "aggregation_function": ["SUM"] * len(metric_rows),
        }
    )
    _create(catalog, f"{namespace}.metrics_v0", [metrics])
    series_parts, key_rows = [], []
    for pi, project in enumerate(PROJECTS):
        rows = {"metric_id": [], "project_id": [], "sample_date": [], "amount": [], "unit": []}
        for mi, metric in enumerate(METRICS):
            for di, month in enumerate(MONTHS):
                rows["metric_id"].append(metric_id(metric, "monthly"))
                rows["project_id"].append(project_id(project))
                rows["sample_date"].append(month)
                rows["amount"].append(amount(pi, mi, di))
                rows["unit"].append(metric)
            key_rows.append((metric_id(metric, "monthly"), project_id(project), MONTHS[-1], amount(pi, mi, 5), metric))
        series_parts.append(pa.table(rows, schema=TIMESERIES_SCHEMA))
    _create(catalog, f"{namespace}.timeseries_metrics_by_project_v0", series_parts)
    keys = pa.table(
        {name: [row[i] for row in key_rows] for i, name in enumerate(TIMESERIES_SCHEMA.names)}, schema=TIMESERIES_SCHEMA
    )
    _create(catalog, f"{namespace}.key_metrics_by_project_v0", [keys])
    return FixtureMarts(timeseries_files=len(series_parts))


TIMESERIES_SCHEMA = pa.schema(
    [
        ("metric_id", pa.string()),
        ("project_id", pa.string()),
        ("sample_date", pa.date32()),
        ("amount", pa.float64()),
        ("unit", pa.string()),
    ]
)


def _create(catalog: Catalog, name: str, parts: list[pa.Table]) -> None:
    table = catalog.create_table(name, schema=parts[0].schema)
    for part in parts:  # one append, one data file
        table.append(part)
