"""The metrics factory's models: one per entity and period, each computing every metric.

From :mod:`sqlmesh_project.metrics_factory` (which says why not one model per metric):

* ``metrics.timeseries_to_<entity>_<period>`` for daily … yearly (15 models), gathered by
  the marts ``marts.timeseries_metrics_by_<entity>_v0``;
* ``marts.key_metrics_by_<entity>_v0``, every metric over all time (3 models that are the
  marts themselves: a copy would be one more model, and one more table written per run);
* ``marts.metrics_v0``, the metrics' metadata.

The SQL is built by the factory and passed as a blueprint variable. Every model declares
its columns and its inputs, so loading the project renders no query to infer them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlglot import exp
from sqlmesh import model
from sqlmesh.core.dialect import MacroFunc, MacroVar
from sqlmesh.core.macros import MacroEvaluator
from sqlmesh.core.model.kind import ModelKindName
from sqlmesh.utils.date import to_datetime
from sqlmesh.utils.errors import SQLMeshError

from commonlake.parsed_sql import parse_duckdb
from sqlmesh_project.macros.exact_median import exact_median
from sqlmesh_project.metric_definitions import load_metrics
from sqlmesh_project.metrics_factory import (
    DAILY,
    ENTITIES,
    LONGER_PERIODS,
    METRIC_INPUTS,
    OVER_ALL_TIME,
    PERIOD_UNITS,
    TIMESERIES_PERIODS,
    key_metrics_model,
    metrics_v0_query,
    period_blueprints,
    period_ends_within,
    period_query,
    timeseries_model,
    timeseries_union_query,
)

METRICS = load_metrics()
MART_COLUMNS = {"metric_id": "TEXT", "@{entity}_id": "TEXT", "sample_date": "DATE", "amount": "DOUBLE", "unit": "TEXT"}
PERIOD_COLUMNS = {**MART_COLUMNS, "period_end": "DATE"}
# The marts' columns, declared: SQLMesh otherwise renders a FULL model's whole query on every
# refresh to look for column comments.
COLUMN_DESCRIPTIONS = {
    "metric_id": "The metric's id, a hash of its source, namespace and name (see marts.metrics_v0).",
    "@{entity}_id": "The {entity} measured.",
    "sample_date": "The first day of the period (daily … yearly), or the last day with events (over all time).",
    "amount": "The metric's value.",
    "unit": "What the amount counts (commits, developers, hours …).",
    "period_end": "The last day of the period: the time column the models are incremental on.",
}


def column_descriptions(columns: dict[str, str], entity: str) -> dict[str, str]:
    """The descriptions of these columns of an ``entity``'s mart."""
    return {name.replace("@{entity}", entity): COLUMN_DESCRIPTIONS[name].format(entity=entity) for name in columns}


def _render(evaluator: MacroEvaluator) -> exp.Expression:
    """The blueprint's query with SQLMesh's macros (@start_date, @end_date, macro calls) filled in.

    The macros are replaced on a copy of the cached tree rather than with
    ``evaluator.transform``, which generates and re-parses the whole query: these queries
    are large (one branch per metric) and that round trip was most of their render time.
    """
    query = parse_duckdb(evaluator.blueprint_var("query")).copy()
    for variable in list(query.find_all(MacroVar)):
        name = variable.name.lower()
        value = evaluator.locals.get(name, evaluator.variables.get(name))
        if value is None:
            raise SQLMeshError(f"Macro variable '{variable.name}' is undefined.")
        variable.replace(exp.convert(value))
    # Macro calls of metric files. A Python model carries only the macros it references by
    # name (SQLMesh cannot see inside the generated query), so each is called directly.
    for call in list(query.find_all(MacroFunc)):
        if call.this.name.lower() != "exact_median":
            raise SQLMeshError(f"Metric files may call @exact_median only, not @{call.this.name}.")
        call.replace(exact_median(evaluator, *call.this.expressions))
    # SQL models get the gateway's default catalog on their table names; generated ones here.
    ctes = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    for table in query.find_all(exp.Table):
        if table.db and not table.catalog and evaluator.default_catalog and table.name not in ctes:
            table.set("catalog", exp.to_identifier(evaluator.default_catalog))
    return query


def timeseries_metrics(evaluator: MacroEvaluator) -> exp.Expression:
    """Every metric of one entity for one period (daily … yearly); no rows when no period ends in the interval.

    On most days no week, month, quarter or year ends: the model then selects nothing
    without reading anything, rather than running every metric over an empty window.
    """
    start, end = (_day(evaluator.locals.get(name)) for name in ("start_date", "end_date"))
    unit = PERIOD_UNITS[evaluator.blueprint_var("period")]
    if start is not None and end is not None and not period_ends_within(unit, start, end):
        return _no_rows(evaluator.blueprint_var("entity"))
    return _render(evaluator)


def _day(value: object) -> date | None:
    """A macro's date value (SQLMesh passes dates, datetimes or ISO strings) as a date."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return to_datetime(value).date()


def _no_rows(entity: str) -> exp.Expression:
    """A query with the period models' columns and no rows."""
    columns = {name.replace("@{entity}", entity): kind for name, kind in PERIOD_COLUMNS.items()}
    return exp.select(*(exp.cast(exp.null(), kind).as_(name) for name, kind in columns.items())).where(exp.false())


# Daily models re-read the previous day for late events; longer periods are written once
# ended and need no lookback, and sum their additive metrics' daily values
# (sums_daily_values). (A lookback cannot be a blueprint variable, hence two
# registrations, which SQLMesh tells apart by their name templates.)
for _name, _lookback, _daily_input, _periods in (
    ("metrics.timeseries_to_@{entity}_daily", {"lookback": 1}, [], (DAILY,)),
    ("metrics.timeseries_to_@{entity}_@{period}", {}, [timeseries_model("@{entity}", DAILY.name)], LONGER_PERIODS),
):
    model(
        _name,
        is_sql=True,
        optimize_query=False,  # generated fully qualified; optimizing 17 branches per render costs seconds
        kind={"name": ModelKindName.INCREMENTAL_BY_TIME_RANGE, "time_column": "period_end", **_lookback},
        cron="@{cron}",
        interval_unit="day",
        depends_on=[*METRIC_INPUTS, *_daily_input],
        extract_dependencies_from_query=False,
        columns=PERIOD_COLUMNS,
        grain=["metric_id", "@{entity}_id", "sample_date"],
        description="Every metric of sqlmesh_project/oso_metrics/ for one entity and period, written once it ended.",
        blueprints=period_blueprints(METRICS, _periods),
    )(timeseries_metrics)


def gathered_metrics(evaluator: MacroEvaluator) -> exp.Expression:
    """A mart of metrics: an entity's timeseries models, or its metrics over all time."""
    return _render(evaluator)


def _columns(*names: str) -> dict[str, list[exp.Column]]:
    return {"columns": [exp.column(name) for name in names]}


# One mart of each kind per entity; audit arguments cannot be blueprint variables, hence the loop.
for _entity in ENTITIES:
    _key = f"{_entity}_id"
    _mart_columns = {name.replace("@{entity}", _entity): kind for name, kind in MART_COLUMNS.items()}
    # Incremental on period_end like the period models it gathers: a run copies the rows of
    # the periods that ended in its interval, and a restatement of the periods flows here.
    model(
        f"marts.timeseries_metrics_by_{_entity}_v0",
        is_sql=True,
        optimize_query=False,  # generated fully qualified; optimizing 17 branches per render costs seconds
        kind={"name": ModelKindName.INCREMENTAL_BY_TIME_RANGE, "time_column": "period_end", "lookback": 1},
        cron="@daily",
        interval_unit="day",
        grain=["metric_id", _key, "sample_date"],
        description=f"Every metric of each {_entity} for every daily … yearly period (OSO mart, plus period_end).",
        audits=[
            ("unique_combination_of_columns", _columns("metric_id", _key, "sample_date")),
            ("not_null", _columns("metric_id", _key, "sample_date", "amount", "period_end")),
        ],
        columns={**_mart_columns, "period_end": "DATE"},
        column_descriptions=column_descriptions(PERIOD_COLUMNS, _entity),
        depends_on=[timeseries_model(_entity, p.name) for p in TIMESERIES_PERIODS],
        extract_dependencies_from_query=False,
        blueprints=[{"query": timeseries_union_query(_entity)}],
    )(gathered_metrics)
    model(
        key_metrics_model(_entity),
        is_sql=True,
        optimize_query=False,  # generated fully qualified; optimizing 17 branches per render costs seconds
        kind="FULL",
        grain=["metric_id", _key],
        description=f"Every metric of each {_entity} over all time, as of the last day with events (OSO mart).",
        audits=[
            ("unique_combination_of_columns", _columns("metric_id", _key)),
            ("not_null", _columns("metric_id", _key, "sample_date", "amount")),
        ],
        columns=_mart_columns,
        column_descriptions=column_descriptions(MART_COLUMNS, _entity),
        # additive metrics over all time are sums of the daily model's values
        depends_on=[*METRIC_INPUTS, timeseries_model(_entity, DAILY.name)],
        extract_dependencies_from_query=False,
        blueprints=[{"query": period_query(METRICS, _entity, OVER_ALL_TIME)}],
    )(gathered_metrics)


@model(
    "marts.metrics_v0",
    is_sql=True,
    optimize_query=False,
    kind="FULL",
    grain=["metric_id"],
    description="One row per metric and period: names, descriptions and SQL (OSO mart).",
    audits=[("unique_values", _columns("metric_id", "metric_name")), ("number_of_rows", {"threshold": 100})],
    columns={
        name: "TEXT"
        for name in (
            "metric_id",
            "metric_source",
            "metric_namespace",
            "metric_name",
            "display_name",
            "description",
            "rendered_sql",
            "sql_source_path",
            "aggregation_function",
        )
    },
    column_descriptions={
        "metric_id": "The metric's id, as in the metrics marts.",
        "metric_source": "Who defines the metric (OSO).",
        "metric_namespace": "The metric's namespace (oso).",
        "metric_name": "<metric>_<period>, e.g. commits_weekly.",
        "display_name": "The metric's name for people, with its period.",
        "description": "What the metric measures.",
        "rendered_sql": "The metric alone for artifacts and its period, by its own query (DuckDB SQL).",
        "sql_source_path": "The metric's file under sqlmesh_project/oso_metrics/.",
        "aggregation_function": "How the metric aggregates: SUM, COUNT_DISTINCT, MEDIAN or CUSTOM.",
    },
    extract_dependencies_from_query=False,  # reads no table; declared like the factory's other models
    blueprints=[{"query": metrics_v0_query(METRICS)}],
)
def metrics_v0(evaluator: MacroEvaluator) -> exp.Expression:
    """The metrics' metadata."""
    return _render(evaluator)
