"""The parse check every query passes before it reaches DataFusion.

One statement, and only SELECT / WITH / EXPLAIN of one: the statement is parsed with
sqlglot (never string-matched), its tables resolved to Iceberg identifiers, table
functions refused unless they only generate values, and a normalised text produced as
the result cache's key. DataFusion then runs it with DDL, DML and statements disallowed
(``engine.READ_ONLY``), so the check is enforced twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import sqlglot
from sqlglot import exp

from query_gateway.errors import QueryError

# Table functions that only generate values; anything else in FROM (read_parquet, read_csv…) is refused.
ALLOWED_TABLE_FUNCTIONS = frozenset({"generate_series", "exploding_generate_series", "range", "unnest", "explode"})
_EXPLAIN_OPTIONS = re.compile(r"^\s*((?:analyze|verbose|format\s+\w+)\s+)*", re.IGNORECASE)
_WRITES = (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create, exp.Drop, exp.Alter, exp.Command, exp.Into)


@dataclass(frozen=True)
class TableRef:
    """A table as the query spells it and the Iceberg table it means.

    ``namespace`` is None when unqualified, and dotted for a nested namespace
    (``upstream.marts`` in ``upstream.marts.events``, a mirror's table).
    """

    namespace: str | None
    name: str
    identifier: tuple[str, ...]

    @property
    def registered_name(self) -> str:
        """The name DataFusion resolves the query's reference with."""
        return f"{self.namespace}.{self.name}" if self.namespace else self.name

    @property
    def qualified(self) -> str:
        """``namespace.table`` of the Iceberg table."""
        return ".".join(self.identifier)


@dataclass(frozen=True)
class Statement:
    """A checked read-only statement."""

    text: str  # what DataFusion runs
    normalized: str  # one spelling for every formatting of the same query (the cache key)
    tables: tuple[TableRef, ...]
    query: exp.Query = field(compare=False, hash=False, repr=False)  # the SELECT/WITH, for pruning
    explain: bool = False  # EXPLAIN [ANALYZE] of the query


def parse_statement(
    sql: str, dialect: str = "postgres", default_namespace: str = "marts", aliases: dict[str, str] | None = None
) -> Statement:
    """Check ``sql`` and resolve its tables; raises QueryError (400) for anything but one read-only query."""
    return _parse(sql, dialect, default_namespace, tuple(sorted((aliases or {}).items())))


@lru_cache(maxsize=4096)
def _parse(sql: str, dialect: str, default_namespace: str, aliases: tuple[tuple[str, str], ...]) -> Statement:
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        raise QueryError(f"SQL syntax error: {_first_line(exc)}") from exc
    except RecursionError as exc:
        raise QueryError("SQL statement is nested too deeply to parse") from exc
    if len(statements) != 1:
        raise QueryError(f"Exactly one statement is allowed (got {len(statements)})")
    statement = statements[0]
    explain_prefix = ""
    if isinstance(statement, exp.Command) and statement.name.upper() == "EXPLAIN":
        inner_text = statement.expression.name if statement.expression else ""
        options = _EXPLAIN_OPTIONS.match(inner_text)
        explain_prefix = "EXPLAIN " + " ".join(options.group(0).split()).upper()
        explain_prefix = explain_prefix.rstrip() + " "
        try:
            statement = sqlglot.parse_one(inner_text[options.end() :], read=dialect)
        except sqlglot.errors.SqlglotError as exc:
            raise QueryError(f"SQL syntax error: {_first_line(exc)}") from exc
    if not isinstance(statement, exp.Query):
        kind = statement.key.upper() if not isinstance(statement, exp.Command) else statement.name.upper()
        raise QueryError(f"Only SELECT, WITH and EXPLAIN statements are allowed (got {kind})")
    for node in statement.find_all(*_WRITES):
        raise QueryError(f"Only read-only queries are allowed (found {node.key.upper()} inside the query)")
    tables = _tables(statement, default_namespace, dict(aliases))
    normalized = explain_prefix + statement.sql(dialect="postgres", normalize=True, comments=False)
    if dialect == "postgres" and not _has_table_function(statement):
        text = sql.strip().rstrip(";")
    else:
        # Other dialects (pyoso sends Trino SQL) run as their PostgreSQL spelling, which DataFusion reads.
        # DataFusion looks table functions up case-sensitively (only ``generate_series`` and ``range`` exist,
        # in lower case) while sqlglot writes GENERATE_SERIES, so function names are written in lower case,
        # which changes nothing else: DataFusion folds every other unquoted name to lower case itself.
        # Trino's month(x), year(x) … have no DataFusion function of that name: EXTRACT reads the same.
        spelled = statement.transform(_as_extract)
        text = explain_prefix + spelled.sql(dialect="postgres", normalize_functions="lower")
    return Statement(text=text, normalized=normalized, tables=tables, query=statement, explain=bool(explain_prefix))


# Date-part functions (Trino's month(x), day_of_week(x) …) → the EXTRACT field with the same value.
_DATE_PARTS = {
    exp.Year: "year",
    exp.Quarter: "quarter",
    exp.Month: "month",
    exp.WeekOfYear: "week",
    exp.Day: "day",
    exp.DayOfYear: "doy",
    exp.DayOfWeekIso: "isodow",
}


def _as_extract(node: exp.Expression) -> exp.Expression:
    part = _DATE_PARTS.get(type(node))
    if part is None:
        return node
    return exp.Extract(this=exp.var(part), expression=node.this)


def _has_table_function(query: exp.Query) -> bool:
    return any(isinstance(table.this, exp.Func) for table in query.find_all(exp.Table))


def _tables(query: exp.Query, default_namespace: str, aliases: dict[str, str]) -> tuple[TableRef, ...]:
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    refs: list[TableRef] = []
    for table in query.find_all(exp.Table):
        if isinstance(table.this, exp.Func):
            function = (table.this.sql_name() if not isinstance(table.this, exp.Anonymous) else table.this.name).lower()
            if function not in ALLOWED_TABLE_FUNCTIONS:
                raise QueryError(f"Table function {function!r} is not allowed (the gateway reads catalog tables only)")
            continue
        if not table.name:
            continue
        if not table.db and table.name.lower() in ctes:
            continue
        if isinstance(table.this, exp.Dot) or any(
            "." in part or '"' in part for part in (table.catalog, table.db, table.name)
        ):
            raise QueryError(
                f"Table {table.sql()!r}: name tables as table, namespace.table or mirror.namespace.table "
                "(no dots or quotes inside a part)"
            )
        spelled_namespace, name = spelling(table)
        if table.catalog:  # a nested namespace: two levels, e.g. a mirror's NAME.namespace
            namespace: tuple[str, ...] = tuple(spelled_namespace.split("."))
        elif spelled_namespace:
            namespace = (aliases.get(spelled_namespace, spelled_namespace),)
        else:
            namespace = (default_namespace,)
        ref = TableRef(spelled_namespace, name, (*namespace, name))
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)


def spelling(table: exp.Table) -> tuple[str | None, str]:
    """(namespace or None, name) of a table reference as DataFusion resolves it.

    A nested namespace is dotted (``upstream.marts``). DataFusion folds unquoted
    identifiers to lower case; so does the table lookup.
    """
    db = _identifier(table.args.get("db"))
    catalog = _identifier(table.args.get("catalog"))
    namespace = f"{catalog}.{db}" if catalog and db else db
    return namespace, _identifier(table.args.get("this")) or table.name


def _identifier(node: exp.Expression | None) -> str | None:
    if not isinstance(node, exp.Identifier):
        return None
    return node.name if node.quoted else node.name.lower()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
