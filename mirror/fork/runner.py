"""Running the fork's own SQLMesh project and publishing its models as this node's marts.

The project (``mirror/fork/project``) reads the upstream node's marts through the mirror
named ``upstream`` (external models over ``upstream.marts.*``) and runs on the same
DuckDB-on-Iceberg gateway as the main project, with its own SQLMesh state, so a node may
run both. Each model is published as ``marts.<model>`` of this node with the main
project's publisher.
"""

from __future__ import annotations

from pathlib import Path

from pyiceberg.catalog import Catalog

from commonlake.settings import Settings

FORK_PROJECT_DIR = Path(__file__).resolve().parent / "project"
FORK_MIRROR = "upstream"  # the mirror name the project's external models read from


def fork_config(settings: Settings):  # -> sqlmesh Config (imported lazily: slow to import)
    """The fork project's SQLMesh config: the ``local`` gateway with state and views of its own."""
    from sqlmesh.core.config import Config, DuckDBConnectionConfig, GatewayConfig, ModelDefaultsConfig

    from sqlmesh_project.project_config import local_gateway, state_dir

    base = local_gateway(settings)
    directory = state_dir(settings)
    catalogs = {**(base.connection.catalogs or {}), "local": str(directory / "fork-local.duckdb")}
    return Config(
        gateways={
            "local": GatewayConfig(
                connection=base.connection.model_copy(update={"catalogs": catalogs}),
                state_connection=DuckDBConnectionConfig(
                    database=str(directory / "fork-state.duckdb"), concurrent_tasks=settings.models.concurrent_tasks
                ),
                test_connection=DuckDBConnectionConfig(concurrent_tasks=1),
            )
        },
        default_gateway="local",
        model_defaults=ModelDefaultsConfig(dialect="duckdb", start=settings.models.start, cron="@daily"),
        # DuckDB cannot create views in an Iceberg catalog: the virtual layer stays in the local file.
        environment_catalog_mapping={".*": "local"},
    )


def run_fork_models(settings: Settings, catalog: Catalog) -> dict[str, int]:
    """Plan and run the fork project, then publish each model as ``marts.<model>``; returns rows per mart."""
    from sqlmesh import Context

    from sqlmesh_project.runner import ModelsRunError, physical_identifier, prepare_catalog, publish_table

    prepare_catalog(catalog, settings)
    context = Context(paths=[str(FORK_PROJECT_DIR)], config=fork_config(settings))
    published: dict[str, int] = {}
    try:
        context.plan("prod", auto_apply=True, no_prompts=True)
        if context.run("prod").is_failure:
            raise ModelsRunError("the fork's sqlmesh run failed; see the log above")
        for model in context.models.values():
            if model.kind.is_external:  # the upstream marts themselves
                continue
            name = model.name.replace('"', "").split(".")[-1]
            source = catalog.load_table(physical_identifier(context, model.name, settings))
            target = publish_target(settings, name)
            rows = publish_table(catalog, source, target)
            if rows is None:  # already published from this very snapshot
                rows = catalog.load_table(target).scan().count()
            published[".".join(target)] = rows
    finally:
        context.close()
    return published


def publish_target(settings: Settings, name: str) -> tuple[str, str]:
    """Where a fork model is published on this node."""
    return settings.models.marts_namespace, name
