"""The metric definitions of ``sqlmesh_project/oso_metrics/``: one SQL file per metric.

A metric file is a YAML header in a block comment (display name, description, unit,
aggregation) followed by one SQL query. The query reads the relations the metrics factory
provides for every entity and period (see :mod:`sqlmesh_project.models.metrics.factory`):

``events``
    ``sample_date, period_days, entity_id, bucket_day, event_source, event_type,
    developer_id, is_bot, amount, event_count``: daily GitHub events of the entity.
``first_contributions``
    ``sample_date, period_days, entity_id, developer_id, first_day``: each developer's first
    contribution to the entity, when it falls in the period.
``time_deltas``
    ``sample_date, period_days, entity_id, time, delta_type, hours``: first responses to
    issues and pull requests (``FIRST_RESPONSE``) and merges (``TIME_TO_MERGE``).

and returns ``entity_id, sample_date, amount``, one row per entity and period.

``aggregation_function: SUM`` declares the metric additive over days: its value for any
span of days is the sum of its daily values. Its query must then return ``SUM(…) AS
amount``, and the factory computes its value over all time from its daily values instead
of from every event of history.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import BaseModel, Field
from sqlglot import exp
from sqlglot.errors import ParseError
from sqlmesh.core.dialect import parse_one

METRICS_DIR = Path(__file__).resolve().parent / "oso_metrics"
METRIC_SOURCE = "GITHUB"
HEADER = re.compile(r"\A\s*/\*(?P<header>.*?)\*/(?P<sql>.*)\Z", re.DOTALL)
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
ADDITIVE = "SUM"


class MetricDefinition(BaseModel):
    """One metric: its metadata and its SQL query."""

    name: str
    display_name: str
    description: str
    unit: str
    aggregation_function: str = Field(description="How the metric aggregates events, e.g. SUM, COUNT_DISTINCT.")
    sql: str
    sql_source_path: str

    @property
    def additive(self) -> bool:
        """Whether the metric adds up over days (see the module's docstring)."""
        return self.aggregation_function.upper() == ADDITIVE

    def metric_name(self, period: str) -> str:
        """The OSO metric name, e.g. ``GITHUB_commits_daily``."""
        return f"{METRIC_SOURCE}_{self.name}_{period}"


class MetricDefinitionError(ValueError):
    """A metric file that cannot be read."""


def load_metric(path: Path) -> MetricDefinition:
    """Read one metric file."""
    name = path.stem
    if not NAME.match(name):
        raise MetricDefinitionError(f"{path}: metric file names are lower_snake_case (got {name!r})")
    match = HEADER.match(path.read_text())
    if match is None:
        raise MetricDefinitionError(f"{path}: a metric file starts with a /* YAML header */ then its SQL query")
    try:
        header = yaml.safe_load(match["header"]) or {}
    except yaml.YAMLError as exc:
        raise MetricDefinitionError(f"{path}: the header is not valid YAML: {exc}") from exc
    if not isinstance(header, dict):
        raise MetricDefinitionError(f"{path}: the header must be a YAML mapping")
    sql = match["sql"].strip().rstrip(";")
    if not sql:
        raise MetricDefinitionError(f"{path}: no SQL query after the header")
    try:
        metric = MetricDefinition(
            name=name, sql=sql, sql_source_path=f"oso_metrics/{path.name}", **{k: str(v) for k, v in header.items()}
        )
    except ValueError as exc:
        raise MetricDefinitionError(f"{path}: {exc}") from exc
    if metric.additive and not _sums_amount(sql):
        raise MetricDefinitionError(
            f"{path}: aggregation_function SUM declares the metric additive over days (its value over all time "
            "is the sum of its daily values), so its query must end in SELECT … SUM(…) AS amount … GROUP BY "
            "entity_id, sample_date; give another aggregation_function otherwise"
        )
    return metric


def _sums_amount(sql: str) -> bool:
    """Whether a query's final SELECT returns ``SUM(…) AS amount`` grouped by entity and sample date."""
    try:
        query = parse_one(sql, dialect="duckdb")  # SQLMesh's parser: metric files may call macros
    except ParseError:
        return True  # not this check's to judge: the factory reports the syntax error
    if not isinstance(query, exp.Select):
        return False
    amount = next((e for e in query.expressions if e.alias_or_name == "amount"), None)
    group = query.args.get("group")
    grouped = {e.name for e in group.expressions} if group else set()
    sums = isinstance(amount, exp.Alias) and isinstance(amount.this, exp.Sum)
    return sums and grouped == {"entity_id", "sample_date"}


def load_metrics(directory: Path = METRICS_DIR) -> list[MetricDefinition]:
    """Every metric of the directory, by name."""
    return [load_metric(path) for path in sorted(directory.glob("*.sql"))]
