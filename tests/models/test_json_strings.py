"""``@json_strings``: several JSON paths from one parse on DuckDB, one function per path elsewhere."""

from __future__ import annotations

import json

import duckdb
import pytest
from sqlglot import exp
from sqlmesh.core import constants
from sqlmesh.core.macros import MacroEvaluator

from sqlmesh_project.macros.json_strings import json_strings

PATHS = ("$.action", "$.issue.number", "$.issue.user.login", "$.pull_request.merged", "$.size", "$.missing.field")
DOCUMENTS = [
    {"action": "opened", "issue": {"number": 12, "user": {"login": "Ada"}}},
    {"pull_request": {"merged": True, "number": 3}, "size": 1.5},
    {"action": "closed", "pull_request": {"merged": False}},
    {},
]


def _call(engine_dialect: str, *paths: exp.Expression) -> exp.Expression:
    evaluator = MacroEvaluator(dialect="duckdb")
    evaluator.locals[constants.SQLMESH_VARS] = {"engine_dialect": engine_dialect}
    return json_strings(evaluator, exp.column("payload"), *paths)


def test_the_one_parse_form_equals_one_extraction_per_path_in_duckdb() -> None:
    literals = [exp.Literal.string(p) for p in PATHS]
    together = _call("duckdb", *literals).sql("duckdb")
    # Trino's and Spark's form (one JSON_EXTRACT_SCALAR per path) also runs in DuckDB, as ->>.
    apart = _call("trino", *literals).sql("duckdb")
    assert together.count("->>") == 1 and apart.count("->>") == len(PATHS)
    con = duckdb.connect()
    con.execute("CREATE TABLE docs (payload VARCHAR)")
    con.executemany("INSERT INTO docs VALUES (?)", [(json.dumps(d),) for d in DOCUMENTS])
    rows = con.execute(f"SELECT {together}, {apart} FROM docs").fetchall()
    assert [list(a) for a, _ in rows] == [list(b) for _, b in rows]
    assert rows[0][0] == ["opened", "12", "Ada", None, None, None]
    assert rows[1][0][3:5] == ["true", "1.5"]


@pytest.mark.parametrize(("dialect", "function"), [("trino", "JSON_EXTRACT_SCALAR("), ("spark", "GET_JSON_OBJECT(")])
def test_other_engines_get_one_function_per_path_in_an_array(dialect: str, function: str) -> None:
    sql = _call(dialect, exp.Literal.string("$.a"), exp.Literal.string("$.b")).sql(dialect)
    assert sql.count(function) == 2 and "$.a" in sql and "$.b" in sql


def test_paths_must_be_string_literals() -> None:
    with pytest.raises(ValueError, match="JSON path string literals"):
        _call("duckdb", exp.column("path"))
    with pytest.raises(ValueError, match="JSON path string literals"):
        _call("duckdb")
