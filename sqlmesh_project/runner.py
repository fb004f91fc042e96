"""Running the SQLMesh project and publishing its marts under stable names.

SQLMesh's virtual layer is views, which other engines cannot read from an Iceberg catalog
(and DuckDB cannot even create there). So after every plan or run, each mart's current
physical table is published as the Iceberg table ``marts.<model>`` (see
:mod:`sqlmesh_project.publishing`): one atomic commit that shares the physical table's
snapshot, skipped when it has not changed. Readers (PyIceberg, DuckDB, Spark, the gateway)
see either the previous or the new mart, never a mix.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pyiceberg.catalog import Catalog
from sqlglot import exp

from commonlake.garbage_collection import fewer_collections
from commonlake.settings import Settings
from sqlmesh_project.deployed_project import is_deployed, prod_plan_id, project_fingerprint, record_deployed
from sqlmesh_project.metrics_factory import ENTITIES, LONGER_PERIODS, timeseries_model
from sqlmesh_project.project_config import PROJECT_DIR, build_config
from sqlmesh_project.publishing import publish_table

__all__ = [
    "ModelsRunError",
    "ModelsRunSummary",
    "make_context",
    "physical_identifier",
    "prepare_catalog",
    "publish_marts",
    "publish_table",
    "run_models",
]

logger = logging.getLogger(__name__)

# SQLMesh phones home unless told not to.
os.environ.setdefault("SQLMESH__DISABLE_ANONYMIZED_ANALYTICS", "1")

MARTS_PREFIX = "marts."


@dataclass
class ModelsRunSummary:
    """What a plan/run did and what it published."""

    plan_applied: bool = False
    published: dict[str, int] = field(default_factory=dict)  # mart → rows
    unchanged: list[str] = field(default_factory=list)


def make_context(settings: Settings, unit_tests: bool = True, load: bool = True):  # -> sqlmesh.Context (lazy import)
    """A SQLMesh Context over this project for the configured gateway.

    ``unit_tests``: load the YAML unit tests. ``load=False``: load no model (enough to
    run what prod holds in SQLMesh's state, or to load later with ``context.load()``).
    """
    from sqlmesh import Context

    return Context(paths=[str(PROJECT_DIR)], config=build_config(settings, unit_tests=unit_tests), load=load)


def prepare_catalog(catalog: Catalog, settings: Settings) -> None:
    """Namespaces the engines need before SQLMesh runs (DuckDB's DEFAULT_SCHEMA, marts)."""
    for namespace in ("main", settings.models.marts_namespace):
        catalog.create_namespace_if_not_exists(namespace)


@fewer_collections()  # see commonlake/garbage_collection.py
def run_models(
    settings: Settings,
    catalog: Catalog,
    start: str | None = None,
    end: str | None = None,
    restate: Iterable[str] = (),
    publish: bool = True,
    execution_time: str | datetime | None = None,
    ignore_cron: bool = False,
) -> ModelsRunSummary:
    """Apply the project to prod if it changed (plan), process new intervals (run), then publish the marts.

    ``restate`` recomputes those models (and what depends on them) over ``start`` to ``end``.
    ``execution_time`` is "now" for SQLMesh (default: the current time): complete intervals
    up to it are processed (``ignore_cron`` runs models whose cron is not due yet). Period
    metric models run daily and write each period once it has ended.
    """
    prepare_catalog(catalog, settings)
    restate = list(restate)
    summary = ModelsRunSummary()
    # A scheduled run of an unchanged project needs no plan: SQLMesh's run processes the new
    # intervals of prod's models. When prod is recorded as running these very sources (see
    # deployed_project.py), the run loads no model at all; otherwise the project is loaded
    # (without its unit tests) and diffed against prod. A plan (new or changed models, a
    # restatement, the first run) gets a context with the unit tests.
    fingerprint = project_fingerprint(settings)
    context = make_context(settings, unit_tests=False, load=False)
    try:
        if not restate and is_deployed(settings, fingerprint, prod_plan_id(context)):
            return _run_and_publish(context, catalog, settings, summary, execution_time, ignore_cron, publish)
        context.load()
        if not restate and not context.diff("prod"):
            record_deployed(settings, fingerprint, prod_plan_id(context))
            return _run_and_publish(context, catalog, settings, summary, execution_time, ignore_cron, publish)
        context.close()
        context = make_context(settings)
        plan = context.plan(
            "prod",
            start=start if restate else None,
            end=end if restate else None,
            execution_time=execution_time,
            restate_models=restate or None,
            # SQLMesh's unit tests check model logic: they run for the models this plan adds,
            # changes or restates, not again on every scheduled run of unchanged models.
            test_changed_only=True,
            auto_apply=True,
            no_prompts=True,
        )
        summary.plan_applied = bool(plan.has_changes or plan.requires_backfill)
        if restate and start:
            # A weekly … yearly model writes a period once it has ended, on the day it ends;
            # restating days inside a period must rewrite that period too, up to its end.
            last_complete_day = datetime.fromisoformat(_day(execution_time or datetime.now(UTC))) - timedelta(days=1)
            period_end = min(_end_of_year(end or start), _day(last_complete_day))
            context.plan(
                "prod",
                start=start,
                end=period_end,
                execution_time=execution_time,
                restate_models=[
                    timeseries_model(entity, period.name) for entity in ENTITIES for period in LONGER_PERIODS
                ],
                test_changed_only=True,
                auto_apply=True,
                no_prompts=True,
            )
        record_deployed(settings, fingerprint, prod_plan_id(context))
        return _run_and_publish(context, catalog, settings, summary, execution_time, ignore_cron, publish)
    finally:
        context.close()


def _run_and_publish(
    context,
    catalog: Catalog,
    settings: Settings,
    summary: ModelsRunSummary,
    execution_time: str | datetime | None,
    ignore_cron: bool,
    publish: bool,
) -> ModelsRunSummary:
    completion = context.run("prod", execution_time=execution_time, ignore_cron=ignore_cron)
    if completion.is_failure:
        raise ModelsRunError("sqlmesh run failed; see the log above for the failing model or audit")
    if publish:
        publish_marts(context, catalog, settings, summary)
    return summary


def _day(value: str | datetime) -> str:
    return (value if isinstance(value, datetime) else datetime.fromisoformat(str(value))).date().isoformat()


def _end_of_year(day: str | datetime) -> str:
    """The last day of the year of ``day`` (the end of the longest period containing it)."""
    return f"{_day(day)[:4]}-12-31"


class ModelsRunError(RuntimeError):
    """A SQLMesh run that failed (a model or a blocking audit)."""


def mart_models(context) -> dict[str, tuple[str, str]]:
    """Prod's mart models (``marts.x``) and their physical tables' (namespace, table), from SQLMesh's state.

    From the state, not the loaded project: a run of an unchanged project loads no model.
    """
    environment = context.state_reader.get_environment("prod")
    marts = {}
    for snapshot in environment.snapshots if environment else []:
        table = exp.to_table(snapshot.name)
        if table.db == MARTS_PREFIX.rstrip(".") and snapshot.is_model and not snapshot.is_symbolic:
            physical = exp.to_table(snapshot.table_name())
            marts[f"{table.db}.{table.name}"] = (physical.db, physical.name)
    return dict(sorted(marts.items()))


def physical_identifier(context, model_name: str, settings: Settings) -> tuple[str, str]:
    """(namespace, table) of a model's current prod physical table in the REST catalog."""
    physical = context.table_name(model_name, environment="prod", prod=True).replace('"', "")
    parts = physical.split(".")
    if parts[0] == settings.models.catalog_alias:
        parts = parts[1:]
    return parts[0], parts[1]


def publish_marts(context, catalog: Catalog, settings: Settings, summary: ModelsRunSummary) -> None:
    """Publish every mart's physical table as ``marts.<model>`` (skipped when unchanged)."""
    for model_name, physical in mart_models(context).items():
        source = catalog.load_table(physical)
        target_name = (settings.models.marts_namespace, model_name.split(".", 1)[1])
        rows = publish_table(catalog, source, target_name)
        if rows is None:
            summary.unchanged.append(model_name)
        else:
            summary.published[model_name] = rows
