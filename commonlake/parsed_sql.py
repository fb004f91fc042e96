"""Generated SQL parsed once per process, however often SQLMesh renders the model that holds it.

SQLMesh stores a Python model's functions by their source when they belong to the project
(``sqlmesh_project/``) and re-creates them for each render, so an ``functools.lru_cache``
there lasted one render: every run re-parsed each metric model's query (about 0.1 s per
render of the largest, several renders per model). Functions of other modules are stored
as imports, so this module's cache is the one every render in the process shares.
"""

from __future__ import annotations

import functools

from sqlglot import exp


@functools.lru_cache(maxsize=128)
def parse_duckdb(sql: str) -> exp.Expression:
    """``sql`` (DuckDB dialect, SQLMesh macros allowed) parsed once per process; callers must copy it to change it."""
    from sqlmesh.core.dialect import parse_one  # sqlglot with SQLMesh's macro syntax

    return parse_one(sql, dialect="duckdb")
