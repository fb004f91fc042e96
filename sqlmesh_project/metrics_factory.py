"""The metrics factory: every metric of ``oso_metrics/``, for each entity and period, in one model.

For every entity (artifact, project, collection) and period (daily … yearly, over all
time), :func:`period_query` builds one query that computes *every* metric of
``oso_metrics/`` (see :mod:`sqlmesh_project.metric_definitions`): the relations the
metrics read (``events``, ``first_contributions``, ``time_deltas``), mapped to the entity
and bucketed by the period, are CTEs shared by all metrics; each metric is one more CTE
(its own CTEs renamed ``<metric>__<name>`` so that two metrics never collide), and the
result is one ``UNION ALL`` branch per metric. ``models/metrics/factory.py`` turns these
queries into SQLMesh models with Python model blueprints:

* ``metrics.timeseries_to_<entity>_<period>``, daily … yearly (15 models), which the marts
  ``timeseries_metrics_by_<entity>_v0`` gather;
* ``marts.key_metrics_by_<entity>_v0``, over all time (3 models, the marts themselves).

Why one model per (entity, period) rather than one per metric (17 x 3 x 6 = 306 models):
each SQLMesh model costs a fixed overhead, whatever its size (loading and fingerprinting,
snapshot and interval bookkeeping, its audits), and on Iceberg every evaluation is a few
REST catalog round trips and commits (create, delete, insert). With 306 models that
overhead dominated every run (113 s of the demo's models step, for a few thousand rows);
with 18 it is negligible, and the shared CTEs read each relation once per model instead of
once per metric. A metric is still defined once, in one file, and adding one is one file.

Period models are ``INCREMENTAL_BY_TIME_RANGE`` on ``period_end`` (the last day of the
period) with a daily interval unit: an interval rewrites exactly the periods that end in
it, reading from the start of the first of those periods to the end of the last, so a
period is only ever written whole, whatever the cadence of runs, and a restatement of any
day inside a period rewrites that period.
"Over all time" models are FULL and carry the as-of date as ``sample_date``.
For every period longer than a day, an additive metric (``aggregation_function: SUM``) is
the sum of its values in the entity's daily model; the others run their query over the
period's events. (Reading the daily model, one row per entity, day and metric, instead of
every event of history more than halved the over-all-time models, the largest fixed cost
of a daily run.)
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlglot import exp

from commonlake.parsed_sql import parse_duckdb  # once per process: every model builds on the same queries
from sqlmesh_project.metric_definitions import MetricDefinition

ENTITY_SEPARATOR = "|"
EVENTS = "intermediate.int_events_daily__github"
FIRST_CONTRIBUTIONS = "intermediate.int_first_contributions__github"
TIME_DELTAS = "intermediate.int_issue_event_time_deltas"
ARTIFACTS_BY_PROJECT = "intermediate.int_artifacts_by_project"
PROJECTS_BY_COLLECTION = "intermediate.int_projects_by_collection"


@dataclass(frozen=True)
class Period:
    """A time aggregation: how rows are bucketed and when the models run."""

    name: str
    unit: str | None  # DATE_TRUNC unit; None for daily and over all time
    interval: str | None  # the period's length as an SQL interval
    cron: str

    @property
    def over_all_time(self) -> bool:
        return self.name == "over_all_time"


# Every period model runs daily (its interval unit is a day) and writes a period only once
# the period has ended: its window stops at the last period end within the interval, so on
# most days it reads nothing. (Period crons would leave the physical tables of models with
# no ended period yet uncreated, which the union marts read, and SQLMesh refuses a model
# whose start falls after its cron's last tick.)
PERIODS = (
    Period("daily", None, "INTERVAL 1 DAY", "@daily"),
    Period("weekly", "week", "INTERVAL 7 DAY", "@daily"),
    Period("monthly", "month", "INTERVAL 1 MONTH", "@daily"),
    Period("quarterly", "quarter", "INTERVAL 3 MONTH", "@daily"),
    Period("yearly", "year", "INTERVAL 1 YEAR", "@daily"),
    Period("over_all_time", None, None, "@daily"),
)
# Plain values, as SQLMesh serializes what a Python model's function reads (by repr).
PERIOD_UNITS = {p.name: p.unit for p in PERIODS if not p.over_all_time}
TIMESERIES_PERIODS = tuple(p for p in PERIODS if not p.over_all_time)
DAILY = PERIODS[0]
LONGER_PERIODS = PERIODS[1:-1]
OVER_ALL_TIME = PERIODS[-1]
ENTITIES = ("artifact", "project", "collection")
RELATIONS = ("events", "first_contributions", "time_deltas")
METRIC_VALUES = "values"  # suffix of the CTE holding a metric's rows: <metric>__values
KEYED = "keyed"  # suffix of the CTE holding them by integer entity key (projects, collections)

# Every table a metric model may read: declared, so that SQLMesh need not render the
# queries at load time to find their dependencies.
METRIC_INPUTS = (EVENTS, FIRST_CONTRIBUTIONS, TIME_DELTAS, ARTIFACTS_BY_PROJECT, PROJECTS_BY_COLLECTION)


def metric_id(metric_name: str) -> str:
    """``@entity_id('OSO', 'oso', metric_name)``, computed once here (the same lower-hex SHA-256)."""
    return hashlib.sha256(ENTITY_SEPARATOR.join(("OSO", "oso", metric_name)).encode()).hexdigest()


def timeseries_model(entity: str, period: str) -> str:
    """The model of an entity's metrics for one period, e.g. ``metrics.timeseries_to_project_monthly``."""
    return f"metrics.timeseries_to_{entity}_{period}"


def key_metrics_model(entity: str) -> str:
    """The model (and mart) of an entity's metrics over all time, e.g. ``marts.key_metrics_by_project_v0``."""
    return f"marts.key_metrics_by_{entity}_v0"


def model_name(entity: str, period: str) -> str:
    """The model that holds an entity's metrics for a period (any of :data:`PERIODS`)."""
    return key_metrics_model(entity) if period == OVER_ALL_TIME.name else timeseries_model(entity, period)


def metric_cte(metric: str) -> str:
    """The CTE of a metric model that holds one metric's ``entity_id, sample_date, amount`` rows."""
    return f"{metric}__{METRIC_VALUES}"


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _bucket(period: Period, column: str) -> str:
    if period.unit is None:
        return column
    return f"CAST(DATE_TRUNC('{period.unit}', {column}) AS DATE)"


def _window_days(period: Period) -> tuple[str, str]:
    """The first and last day of the periods that end in the interval being processed."""
    if period.unit is None:
        return "@start_date", "@end_date"
    last_end = f"CAST({_bucket(period, 'CAST(@end_date + INTERVAL 1 DAY AS DATE)')} - INTERVAL 1 DAY AS DATE)"
    return _bucket(period, "@start_date"), last_end


def _window(period: Period, column: str) -> str:
    """Rows of the periods that end in the interval being processed (whole periods only), by a day column."""
    if period.over_all_time:
        return "TRUE"
    first, last = _window_days(period)
    return f"{column} BETWEEN {first} AND {last}"


def _time_window(period: Period, column: str) -> str:
    """:func:`_window` by a timestamp column's day, as a range on the timestamp itself.

    The same rows as ``CAST(column AS DATE)`` in the window (days are cut in the session
    time zone either way, UTC on every gateway), but engines can skip data files and row
    groups by a range on the column, not by a filter on its cast: on DuckDB the cast read
    every time delta of history for a day's run.
    """
    if period.over_all_time:
        return "TRUE"
    first, last = _window_days(period)
    return (
        f"{column} >= CAST({first} AS TIMESTAMPTZ) "
        f"AND {column} < CAST(CAST({last} + INTERVAL 1 DAY AS DATE) AS TIMESTAMPTZ)"
    )


def _period_days(period: Period) -> str:
    if period.over_all_time:
        return "CAST(DATE_DIFF('day', bounds.first_day, bounds.as_of) + 1 AS INT)"
    if period.unit is None:
        return "1"
    return f"CAST(DATE_DIFF('day', {{sample}}, CAST({{sample}} + {period.interval} AS DATE)) AS INT)"


def _sample_date(period: Period, column: str) -> str:
    return "bounds.as_of" if period.over_all_time else _bucket(period, column)


def _period_end(period: Period) -> str:
    """The ``period_end`` column of a timeseries row (none over all time)."""
    if period.over_all_time:
        return ""
    if period.unit is None:
        return ", sample_date AS period_end"
    return f", CAST(sample_date + {period.interval} - INTERVAL 1 DAY AS DATE) AS period_end"


def _entity_map(entity: str) -> list[tuple[str, str]]:
    """The CTEs that map artifacts to the entity; none for artifacts.

    ``entity_keys`` numbers the entity ids (``entity_id`` → ``entity_key``, a dense
    integer) and ``entity_map`` maps ``artifact_id`` → ``entity_key``, distinct (so an
    artifact counts once per entity). The relations carry the key, not the id: ids are
    64-character hex strings, and with an artifact in several projects or collections the
    joined relations outgrow the events, and grouping them by a string is slow (grouping
    by the integer took 25-30 % off the project and collection models over all time,
    measured at 10 M events). Each metric's rows get their ids back at the end.
    """
    if entity == "artifact":
        return []
    if entity == "project":
        pairs = f"SELECT DISTINCT artifact_id, project_id AS entity_id FROM {ARTIFACTS_BY_PROJECT}"
    else:
        pairs = (
            f"SELECT DISTINCT abp.artifact_id, pbc.collection_id AS entity_id FROM {ARTIFACTS_BY_PROJECT} AS abp "
            f"JOIN {PROJECTS_BY_COLLECTION} AS pbc ON pbc.project_id = abp.project_id"
        )
    return [
        ("entity_artifacts", pairs),
        (
            "entity_keys",
            "SELECT entity_id, DENSE_RANK() OVER (ORDER BY entity_id) AS entity_key "
            "FROM (SELECT DISTINCT entity_id FROM entity_artifacts) AS ids",
        ),
        (
            "entity_map",
            "SELECT a.artifact_id, k.entity_key FROM entity_artifacts AS a "
            "JOIN entity_keys AS k ON k.entity_id = a.entity_id",
        ),
    ]


def _relation_ctes(entity: str, period: Period, relations: set[str]) -> list[tuple[str, str]]:
    """The CTEs the metrics read, mapped to the entity and bucketed by the period."""
    ctes: list[tuple[str, str]] = []
    mapping = _entity_map(entity)
    ctes.extend(mapping)
    if period.over_all_time:
        ctes.append(("bounds", f"SELECT MIN(bucket_day) AS first_day, MAX(bucket_day) AS as_of FROM {EVENTS}"))
    join_bounds = " CROSS JOIN bounds" if period.over_all_time else ""

    def entity_join(alias: str) -> tuple[str, str]:
        if mapping:
            return f" JOIN entity_map AS em ON em.artifact_id = {alias}.to_artifact_id", "em.entity_key"
        return "", f"{alias}.to_artifact_id"

    if "events" in relations:
        join, entity_id = entity_join("e")
        sample = _sample_date(period, "e.bucket_day")
        ctes.append(
            (
                "events",
                f"SELECT {sample} AS sample_date, {_period_days(period).format(sample=sample)} AS period_days, "
                f"{entity_id} AS entity_id, e.bucket_day, e.event_source, e.event_type, "
                f"e.from_artifact_id AS developer_id, e.from_is_bot AS is_bot, e.amount, e.event_count "
                f"FROM {EVENTS} AS e{join}{join_bounds} WHERE {_window(period, 'e.bucket_day')}",
            )
        )
    if "time_deltas" in relations:
        join, entity_id = entity_join("d")
        day = "CAST(d.time AS DATE)"
        sample = _sample_date(period, day)
        ctes.append(
            (
                "time_deltas",
                f"SELECT {sample} AS sample_date, {_period_days(period).format(sample=sample)} AS period_days, "
                f"{entity_id} AS entity_id, d.time, d.delta_type, d.hours "
                f"FROM {TIME_DELTAS} AS d{join}{join_bounds} WHERE {_time_window(period, 'd.time')}",
            )
        )
    if "first_contributions" in relations:
        # A developer's first contribution to a project is the earliest over its artifacts,
        # so the minimum is taken over all history before the period filter.
        # Only developers with a first contribution to some artifact in the window can have
        # their first to the entity there: the others are left out before the aggregation.
        join, entity_id = entity_join("f")
        candidates = (
            ""
            if period.over_all_time
            else f" AND f.from_artifact_id IN (SELECT from_artifact_id FROM {FIRST_CONTRIBUTIONS} "
            f"WHERE {_window(period, 'first_day')})"
        )
        ctes.append(
            (
                "entity_first_contributions",
                f"SELECT {entity_id} AS entity_id, f.from_artifact_id AS developer_id, MIN(f.first_day) AS first_day "
                f"FROM {FIRST_CONTRIBUTIONS} AS f{join} WHERE NOT f.from_is_bot{candidates} GROUP BY 1, 2",
            )
        )
        sample = _sample_date(period, "c.first_day")
        ctes.append(
            (
                "first_contributions",
                f"SELECT {sample} AS sample_date, {_period_days(period).format(sample=sample)} AS period_days, "
                f"c.entity_id, c.developer_id, c.first_day "
                f"FROM entity_first_contributions AS c{join_bounds} WHERE {_window(period, 'c.first_day')}",
            )
        )
    return ctes


@functools.lru_cache(maxsize=256)
def referenced_relations(sql: str) -> frozenset[str]:
    """Which of the factory's relations a metric query reads."""
    query = parse_duckdb(sql)
    own = {cte.alias_or_name for cte in query.find_all(exp.CTE)}
    tables = {table.name for table in query.find_all(exp.Table) if not table.db}
    return frozenset((tables - own) & set(RELATIONS))


def _metric_ctes(metrics: list[MetricDefinition], keyed: bool) -> list[tuple[str, str]]:
    """The metrics' own CTEs, renamed ``<metric>__<cte>``, then each one's rows as :func:`metric_cte`.

    A CTE identical to one an earlier metric already defined (same query over the same
    relations, e.g. the developers' commit days that full- and part-time developers both
    count) is not repeated: the later metric reads the earlier one, so the engine
    computes it once.

    ``keyed``: the relations carry integer entity keys (see :func:`_entity_map`); each
    metric's query then becomes ``<metric>__keyed`` and :func:`metric_cte` swaps the keys
    for the entity ids.
    """
    return list(_shared_metric_ctes(tuple((metric.name, metric.sql) for metric in metrics), keyed))


@functools.lru_cache(maxsize=256)
def _shared_metric_ctes(metrics: tuple[tuple[str, str], ...], keyed: bool) -> tuple[tuple[str, str], ...]:
    ctes: list[tuple[str, str]] = []
    by_query: dict[str, str] = {}  # a CTE's SQL (references resolved) → the CTE that computes it
    for metric_name, sql in metrics:
        query = parse_duckdb(sql).copy()
        with_ = query.args.get("with_")
        inner = list(with_.expressions) if with_ else []
        query.set("with_", None)
        reserved = sorted({cte.alias_or_name for cte in inner} & {METRIC_VALUES, KEYED})
        if reserved:
            raise ValueError(f"metric {metric_name}: the factory names CTEs {reserved} itself; rename the metric's own")
        renamed: dict[str, str] = {}  # this metric's CTE names defined so far → their names in the model
        for cte in inner:
            body = cte.this.transform(_rename_tables, renamed).sql("duckdb")
            if body not in by_query:
                by_query[body] = f"{metric_name}__{cte.alias_or_name}"
                ctes.append((by_query[body], body))
            renamed[cte.alias_or_name] = by_query[body]
        final = f"{metric_name}__{KEYED}" if keyed else metric_cte(metric_name)
        ctes.append((final, query.transform(_rename_tables, renamed).sql("duckdb")))
        if keyed:
            ctes.append(
                (
                    metric_cte(metric_name),
                    f"SELECT k.entity_id, v.sample_date, v.amount FROM {final} AS v "
                    "JOIN entity_keys AS k ON k.entity_key = v.entity_id",
                )
            )
    return tuple(ctes)


def _rename_tables(node: exp.Expression, names: dict[str, str]) -> exp.Expression:
    """``node`` with an unqualified table named in ``names`` renamed (a ``transform`` callback)."""
    if isinstance(node, exp.Table) and not node.db and node.name in names:
        node.set("this", exp.to_identifier(names[node.name]))
    return node


def period_query(
    metrics: Iterable[MetricDefinition], entity: str, period: Period, sum_daily_values: bool = True
) -> str:
    """Every metric for one entity and period, one ``UNION ALL`` branch each (DuckDB dialect, SQLMesh macros).

    Columns: ``metric_id, <entity>_id, sample_date, amount, unit`` (and ``period_end``
    unless over all time). ``sum_daily_values=False`` computes every metric with its own
    query, even those the models sum from the daily model (:func:`sums_daily_values`).
    """
    metrics = list(metrics)

    def from_daily(metric: MetricDefinition) -> bool:
        return sum_daily_values and sums_daily_values(metric, period)

    if not metrics:
        raise ValueError("no metrics to compute")
    relations: set[str] = set()
    for metric in metrics:
        read = referenced_relations(metric.sql)
        if not read:
            raise ValueError(f"metric {metric.name} reads none of the factory's relations {RELATIONS}")
        if not from_daily(metric):
            relations |= read
    ctes = _relation_ctes(entity, period, relations)
    ctes += _daily_sum_ctes([m for m in metrics if from_daily(m)], entity, period)
    ctes += _metric_ctes([m for m in metrics if not from_daily(m)], keyed=entity != "artifact")
    branches = []
    for metric in metrics:
        name = metric.metric_name(period.name)
        branches.append(
            f"SELECT {_sql_string(metric_id(name))} AS metric_id, entity_id AS {entity}_id, "
            f"CAST(sample_date AS DATE) AS sample_date, CAST(amount AS DOUBLE) AS amount, "
            f"{_sql_string(metric.unit)} AS unit{_period_end(period)}\n"
            f"FROM {metric_cte(metric.name)}"
        )
    with_sql = ",\n".join(f"{cte_name} AS (\n  {sql}\n)" for cte_name, sql in ctes)
    return f"WITH {with_sql}\n" + "\nUNION ALL\n".join(branches)


def sums_daily_values(metric: MetricDefinition, period: Period) -> bool:
    """Whether the metric's value for this period is the sum of its values in the daily model.

    So for an additive metric (``aggregation_function: SUM``) over any period longer than a
    day: its own query over the period's events would give the same numbers (a sum over
    days is the sum of the daily sums), but the daily model holds one row per entity, day
    and metric, tens of times fewer than the daily events, and is kept incrementally.
    """
    return metric.additive and period.name != DAILY.name


def _daily_sum_ctes(metrics: list[MetricDefinition], entity: str, period: Period) -> list[tuple[str, str]]:
    """The rows of metrics that sum their daily values (:func:`sums_daily_values`) for the period."""
    if not metrics:
        return []
    ids = {metric.name: metric_id(metric.metric_name(DAILY.name)) for metric in metrics}
    listed = ", ".join(_sql_string(i) for i in ids.values())
    sample = "bounds.as_of" if period.over_all_time else _bucket(period, "d.sample_date")
    join_bounds = " CROSS JOIN bounds" if period.over_all_time else ""
    ctes = [
        (
            "daily_sums",
            f"SELECT d.metric_id, d.{entity}_id AS entity_id, {sample} AS sample_date, SUM(d.amount) AS amount "
            f"FROM {timeseries_model(entity, DAILY.name)} AS d{join_bounds} "
            f"WHERE d.metric_id IN ({listed}) AND {_window(period, 'd.sample_date')} GROUP BY 1, 2, 3",
        )
    ]
    for metric in metrics:
        ctes.append(
            (
                metric_cte(metric.name),
                "SELECT entity_id, sample_date, amount FROM daily_sums "
                f"WHERE metric_id = {_sql_string(ids[metric.name])}",
            )
        )
    return ctes


def metric_query(metric: MetricDefinition, entity: str, period: Period) -> str:
    """One metric alone for one entity and period, by its own query: what ``metrics_v0.rendered_sql`` shows.

    The definition over the events, even where the models sum daily values (the same numbers).
    """
    return period_query([metric], entity, period, sum_daily_values=False)


def period_blueprints(metrics: list[MetricDefinition], periods: Iterable[Period]) -> list[dict]:
    """Blueprint variables of the metric model of every entity for these periods."""
    return [
        {"entity": entity, "period": period.name, "cron": period.cron, "query": period_query(metrics, entity, period)}
        for entity in ENTITIES
        for period in periods
    ]


def timeseries_union_query(entity: str) -> str:
    """An entity's timeseries rows (daily … yearly) whose periods end in the interval, in the mart's columns."""
    return "\nUNION ALL\n".join(
        f"SELECT metric_id, {entity}_id, sample_date, amount, unit, period_end FROM {timeseries_model(entity, p.name)} "
        f"WHERE period_end BETWEEN @start_date AND @end_date"
        for p in TIMESERIES_PERIODS
    )


def period_start(unit: str | None, day: date) -> date:
    """The first day of the period holding ``day``, for a ``DATE_TRUNC`` unit (weeks start on Monday).

    ``unit`` is a :class:`Period`'s, None for daily periods.
    """
    if unit is None:
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if unit == "year":
        return day.replace(month=1, day=1)
    raise ValueError(f"unknown period unit {unit!r}")


def period_ends_within(unit: str | None, start: date, end: date) -> bool:
    """Whether a period of this unit ends on a day from ``start`` to ``end``: whether its model has rows to write.

    The Python twin of :func:`_window`: the last period end up to ``end`` is the day before
    the period holding ``end + 1 day`` starts.
    """
    return period_start(unit, end + timedelta(days=1)) - timedelta(days=1) >= start


def metrics_v0_query(metrics: list[MetricDefinition]) -> str:
    """The rows of ``marts.metrics_v0``: one per metric and period."""
    rows = []
    for metric in metrics:
        for period in PERIODS:
            name = metric.metric_name(period.name)
            values = [
                metric_id(name),
                "OSO",
                "oso",
                name,
                f"{metric.display_name} ({period.name.replace('_', ' ')})",
                metric.description,
                metric_query(metric, "artifact", period),
                metric.sql_source_path,
                metric.aggregation_function,
            ]
            rows.append("(" + ", ".join(_sql_string(v) for v in values) + ")")
    columns = (
        "metric_id, metric_source, metric_namespace, metric_name, display_name, description, "
        "rendered_sql, sql_source_path, aggregation_function"
    )
    casts = ", ".join(f"CAST({c} AS TEXT) AS {c}" for c in columns.split(", "))
    return f"SELECT {casts} FROM (VALUES\n" + ",\n".join(rows) + f"\n) AS metrics({columns})"
