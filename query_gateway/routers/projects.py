"""Projects and their metrics from the OSO-shaped marts (``projects_v1``, ``metrics_v0``,
``timeseries_metrics_by_project_v0``, ``key_metrics_by_project_v0``).

Each route is a few small queries through the same engine as ``/v1/sql`` (so they are
pruned and cached alike): ids are looked up first, then the large time-series mart is
filtered by ``project_id`` and ``metric_id``, which prunes its files.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from sqlglot import exp

from query_gateway.access import require_client
from query_gateway.errors import QueryError
from query_gateway.service import QueryService

router = APIRouter(tags=["Projects"], dependencies=[Depends(require_client)])

Period = Literal["daily", "weekly", "monthly", "quarterly", "yearly", "over_all_time"]
PROJECT_COLUMNS = "project_id, project_source, project_namespace, project_name, display_name, description"


def _text(value: str) -> str:
    """A SQL string literal (sqlglot quotes it; never pasted into SQL by hand)."""
    return exp.Literal.string(value).sql(dialect="postgres")


def _rows(service: QueryService, sql: str) -> list[dict[str, Any]]:
    return service.answer(sql).entry.result.table.to_pylist()


def _project(service: QueryService, marts: str, name: str) -> dict[str, Any]:
    rows = _rows(service, f"SELECT {PROJECT_COLUMNS} FROM {marts}.projects_v1 WHERE project_name = {_text(name)}")
    if not rows:
        raise QueryError(f"No project named {name!r}", status=404)
    return rows[0]


@router.get("/v1/projects")
def search_projects(
    request: Request,
    q: str = Query(default="", max_length=200, description="Part of the project's name or display name."),
    limit: int = Query(default=20, ge=1, le=200),
) -> dict[str, Any]:
    """Projects whose name or display name contains ``q`` (case-insensitive)."""
    service: QueryService = request.app.state.service
    marts = request.app.state.settings.gateway.default_namespace
    needle = _text(q.lower())
    sql = (
        f"SELECT {PROJECT_COLUMNS} FROM {marts}.projects_v1 "
        f"WHERE strpos(lower(project_name), {needle}) > 0 OR strpos(lower(coalesce(display_name, '')), {needle}) > 0 "
        f"ORDER BY project_name LIMIT {limit}"
    )
    return {"projects": _rows(service, sql)}


@router.get("/v1/projects/{name}")
def project_key_metrics(name: str, request: Request) -> dict[str, Any]:
    """A project and the latest value of each of its metrics (``key_metrics_by_project_v0``)."""
    service: QueryService = request.app.state.service
    marts = request.app.state.settings.gateway.default_namespace
    project = _project(service, marts, name)
    sql = (
        f"SELECT m.metric_name, m.display_name, k.sample_date, k.amount, k.unit "
        f"FROM {marts}.key_metrics_by_project_v0 AS k JOIN {marts}.metrics_v0 AS m ON m.metric_id = k.metric_id "
        f"WHERE k.project_id = {_text(project['project_id'])} ORDER BY m.metric_name"
    )
    return {"project": project, "key_metrics": _rows(service, sql)}


@router.get("/v1/projects/{name}/metrics")
def project_metrics(
    name: str,
    request: Request,
    metric: list[str] = Query(default=["commits"], description="Metric, e.g. commits, stars, active_developers."),
    period: Period = Query(default="monthly"),
    source: str = Query(default="GITHUB", pattern=r"^[A-Za-z0-9_]+$"),
    from_: dt.date | None = Query(default=None, alias="from"),
    to: dt.date | None = Query(default=None),
) -> dict[str, Any]:
    """A project's time series of one or more metrics for one period, optionally between two dates."""
    service: QueryService = request.app.state.service
    marts = request.app.state.settings.gateway.default_namespace
    project = _project(service, marts, name)
    wanted = {m if m.upper().startswith(source.upper() + "_") else f"{source.upper()}_{m}_{period}": m for m in metric}
    names = ", ".join(_text(n) for n in wanted)
    metrics = _rows(
        service,
        f"SELECT metric_id, metric_name, display_name FROM {marts}.metrics_v0 WHERE metric_name IN ({names})",
    )
    found = {row["metric_name"]: row for row in metrics}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise QueryError(f"Unknown metric(s): {', '.join(missing)} (see {marts}.metrics_v0)", status=404)
    ids = ", ".join(_text(row["metric_id"]) for row in metrics)
    conditions = [f"project_id = {_text(project['project_id'])}", f"metric_id IN ({ids})"]
    if from_:
        conditions.append(f"sample_date >= DATE '{from_.isoformat()}'")
    if to:
        conditions.append(f"sample_date <= DATE '{to.isoformat()}'")
    points = _rows(
        service,
        f"SELECT metric_id, sample_date, amount, unit FROM {marts}.timeseries_metrics_by_project_v0 "
        f"WHERE {' AND '.join(conditions)} ORDER BY sample_date",
    )
    series = []
    for metric_name, asked in wanted.items():
        row = found[metric_name]
        own = [p for p in points if p["metric_id"] == row["metric_id"]]
        series.append(
            {
                "metric": asked,
                "metric_name": metric_name,
                "metric_id": row["metric_id"],
                "display_name": row["display_name"],
                "unit": own[0]["unit"] if own else None,
                "points": [{"date": p["sample_date"].isoformat(), "amount": p["amount"]} for p in own],
            }
        )
    return {"project": project, "period": period, "series": series}
