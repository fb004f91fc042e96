"""The one Dagster ``Definitions`` of Commonlake.

``build_definitions(settings)`` builds it from a Settings object (tests, the CLI). The
module-level ``defs`` is the code location that ``dagster dev -m orchestration.definitions``
and ``infra/dagster/workspace.yaml`` load: like ``commonlake.asgi`` for uvicorn, it is
the entry point that builds Settings from the ``COMMONLAKE_*`` environment.
"""

from __future__ import annotations

import dagster as dg

from commonlake.settings import Settings
from orchestration.automation import build_daily_schedule, build_maintenance_schedule, build_new_hour_sensor
from orchestration.ingestion_assets import (
    GHARCHIVE_KEY,
    build_bigquery_mirror_assets,
    build_gharchive_asset,
    build_ossd_asset,
)
from orchestration.maintenance_jobs import MAINTENANCE_JOBS, table_maintenance
from orchestration.mirrors import MIRROR_JOBS, build_mirror_sensor
from orchestration.model_assets import build_model_assets
from orchestration.model_graph import ModelNode, load_model_nodes
from orchestration.publishing_assets import build_bigquery_assets, build_publishing_assets
from orchestration.resources import Lakehouse

PIPELINE_JOB = "commonlake_pipeline"
GHARCHIVE_JOB = "gharchive_hourly"


def build_definitions(settings: Settings, nodes: list[ModelNode] | None = None) -> dg.Definitions:
    """Assets, checks, jobs, schedules, sensors and the resource, for these settings."""
    nodes = nodes if nodes is not None else load_model_nodes(settings)
    assets: list[dg.AssetsDefinition] = [
        build_gharchive_asset(settings),
        build_ossd_asset(settings),
        *build_bigquery_mirror_assets(settings),
        build_model_assets(nodes),
        build_publishing_assets(settings, nodes),
    ]
    if settings.export.bigquery_dataset:
        assets.append(build_bigquery_assets(settings, nodes))
    pipeline = dg.define_asset_job(
        PIPELINE_JOB, selection=dg.AssetSelection.all(), description="Ingest, run the models, publish (and mirror)."
    )
    gharchive = dg.define_asset_job(
        GHARCHIVE_JOB, selection=dg.AssetSelection.assets(GHARCHIVE_KEY), description="Load GH Archive hours."
    )
    return dg.Definitions(
        assets=assets,
        jobs=[pipeline, gharchive, *MAINTENANCE_JOBS, *MIRROR_JOBS],
        schedules=[build_daily_schedule(settings, pipeline), build_maintenance_schedule(settings, table_maintenance)],
        sensors=[build_new_hour_sensor(settings, gharchive), build_mirror_sensor(settings)],
        resources={"lakehouse": Lakehouse(settings)},
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location: Definitions for the settings in the environment."""
    return build_definitions(Settings())
