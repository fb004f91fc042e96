"""``@exact_median(x)``: the exact median of a group (the mean of the two middle values when even).

An aggregate rather than ranking with window functions: over a period's rows a window
sorts whole partitions (one per entity and period, so few and huge, hardly parallel),
which made the time-to-response metrics the slowest part of every metric model. DuckDB
and Spark have an exact ``MEDIAN``; Trino has only ``approx_percentile``, so there the
middle values are picked from the sorted array of the group.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator


def _trino_median(value: exp.Expression) -> exp.Expression:
    v = value.sql("trino")
    ordered = f"ARRAY_SORT(ARRAY_AGG({v}))"
    middles = [f"{ordered}[CAST({rounding}((COUNT({v}) + 1) / 2.0) AS BIGINT)]" for rounding in ("FLOOR", "CEIL")]
    return sqlglot.parse_one(f"({middles[0]} + {middles[1]}) / 2.0", read="trino")


@macro()
def exact_median(evaluator: MacroEvaluator, value: exp.Expression) -> exp.Expression:
    """The exact median of ``value`` over the group, for the engine's dialect."""
    dialect = evaluator.var("engine_dialect") or evaluator.dialect
    if dialect == "trino":
        return _trino_median(value)
    # DuckDB's MEDIAN and Spark's (3.4+, percentile at 0.5) are exact and average the middle pair.
    return exp.Median(this=value)
