"""``@json_strings(json, path, …)``: the scalar values at several JSON paths, as an array of strings.

A model that reads many fields of one JSON document (the staging of GitHub events reads
ten from each ``payload``) would parse the document once per ``->>``. DuckDB extracts a
list of paths in one parse (``json ->> ['$.a', '$.b']``), about four times faster for
the event payloads; Trino and Spark get one ``JSON_EXTRACT_SCALAR`` / ``GET_JSON_OBJECT``
per path in an array. Either way element *i* (``v[i]``, 1-based in the models' DuckDB
dialect) is the value at the *i*-th path as text, or NULL when absent.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator


@macro()
def json_strings(evaluator: MacroEvaluator, document: exp.Expression, *paths: exp.Expression) -> exp.Expression:
    """The values at ``paths`` (string literals) of ``document`` as an array of strings."""
    if not paths or not all(isinstance(p, exp.Literal) and p.is_string for p in paths):
        raise ValueError("@json_strings takes a JSON expression and one or more JSON path string literals")
    dialect = evaluator.var("engine_dialect") or evaluator.dialect
    if dialect == "duckdb":
        return exp.JSONExtractScalar(this=document, expression=exp.Array(expressions=list(paths)))
    return exp.Array(expressions=[exp.JSONExtractScalar(this=document.copy(), expression=p) for p in paths])
