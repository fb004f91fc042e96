"""Turn a query's predicates into a PyIceberg row filter per table, for file pruning.

pyiceberg-core's DataFusion provider pushes projections down but not filters, so a point
lookup would read every data file. Here each table reference's conjuncts (``col op
literal``, IN, BETWEEN, IS [NOT] NULL, LIKE 'prefix%', and AND/OR of those) are collected
from the WHERE of its own SELECT and from the ON of its join, translated to PyIceberg
expressions, and OR-ed across the references of one table. PyIceberg then plans the scan
(partition and column-statistics pruning) and DataFusion reads only the surviving files,
still applying the full predicate itself, so results are identical.

Kept conservative: a table on the nullable side of an outer join takes no WHERE
predicates; anything not understood is left out (less pruning, never wrong rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pyiceberg.expressions import (
    AlwaysTrue,
    And,
    BooleanExpression,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNull,
    LessThan,
    LessThanOrEqual,
    NotEqualTo,
    NotIn,
    NotNull,
    Or,
    StartsWith,
)
from sqlglot import exp
from sqlglot.optimizer.scope import Scope, traverse_scope

from query_gateway.statements import Statement, TableRef, spelling

_COMPARISONS: dict[type[exp.Expression], tuple[Callable, Callable]] = {
    # sqlglot node → (PyIceberg expression for `col op lit`, for `lit op col`)
    exp.EQ: (EqualTo, EqualTo),
    exp.NEQ: (NotEqualTo, NotEqualTo),
    exp.GT: (GreaterThan, LessThan),
    exp.GTE: (GreaterThanOrEqual, LessThanOrEqual),
    exp.LT: (LessThan, GreaterThan),
    exp.LTE: (LessThanOrEqual, GreaterThanOrEqual),
}


def row_filters(statement: Statement, columns: Callable[[TableRef], set[str]]) -> dict[TableRef, BooleanExpression]:
    """The row filter of each table of the statement (AlwaysTrue when nothing can prune it).

    ``columns(ref)`` gives the column names of a table, to place unqualified columns.
    """
    per_reference: dict[TableRef, list[BooleanExpression]] = {ref: [] for ref in statement.tables}
    by_spelling = {(ref.namespace, ref.name): ref for ref in statement.tables}
    try:
        scopes = traverse_scope(statement.query)
    except Exception:  # sqlglot cannot scope some valid queries; then nothing is pruned
        return dict.fromkeys(statement.tables, AlwaysTrue())
    for scope in scopes:
        for alias, source in scope.sources.items():
            if not isinstance(source, exp.Table) or isinstance(source.this, exp.Func):
                continue
            ref = by_spelling.get(spelling(source))
            if ref is None:
                continue
            per_reference[ref].append(_reference_filter(scope, alias, source, ref, columns))
    filters: dict[TableRef, BooleanExpression] = {}
    for ref, alternatives in per_reference.items():
        if not alternatives or any(isinstance(a, AlwaysTrue) for a in alternatives):
            filters[ref] = AlwaysTrue()
            continue
        combined = alternatives[0]
        for other in alternatives[1:]:
            combined = Or(combined, other)
        filters[ref] = combined
    return filters


def _reference_filter(
    scope: Scope, alias: str, table: exp.Table, ref: TableRef, columns: Callable[[TableRef], set[str]]
) -> BooleanExpression:
    select = scope.expression
    if not isinstance(select, exp.Select):
        return AlwaysTrue()
    own_columns = columns(ref)
    other_tables = [s for a, s in scope.sources.items() if a != alias]
    nullable, join = _join_role(select, table)
    conjuncts: list[exp.Expression] = []
    where = select.args.get("where")
    if where is not None and not nullable:
        conjuncts.extend(_conjuncts(where.this))
    if join is not None and join.side.upper() in ("", "LEFT") and join.args.get("on") is not None:
        conjuncts.extend(_conjuncts(join.args["on"]))
    resolve = _column_resolver(alias, own_columns, bool(other_tables))
    parts = [p for p in (_translate(c, resolve) for c in conjuncts) if p is not None]
    result: BooleanExpression = AlwaysTrue()
    for part in parts:
        result = part if isinstance(result, AlwaysTrue) else And(result, part)
    return result


def _join_role(select: exp.Select, table: exp.Table) -> tuple[bool, exp.Join | None]:
    """Whether the table is on the nullable side of an outer join, and the join that brings it in."""
    joins: list[exp.Join] = select.args.get("joins") or []
    own = next((j for j in joins if j.this is table), None)
    if own is not None:
        side = own.side.upper()
        return side in ("LEFT", "FULL"), own
    # The FROM table: nullable when any join is RIGHT or FULL.
    return any(j.side.upper() in ("RIGHT", "FULL") for j in joins), None


def _conjuncts(condition: exp.Expression) -> Iterable[exp.Expression]:
    condition = condition.unnest()
    if isinstance(condition, exp.And):
        yield from _conjuncts(condition.left)
        yield from _conjuncts(condition.right)
    else:
        yield condition


def _column_resolver(alias: str, own_columns: set[str], has_other_tables: bool) -> Callable[[exp.Column], str | None]:
    lowered = {c.lower(): c for c in own_columns}

    def resolve(column: exp.Column) -> str | None:
        if column.table and column.table != alias:
            return None
        if not column.table and has_other_tables:
            return None  # ambiguous without the other tables' schemas: leave it to DataFusion
        name = column.name if column.this.args.get("quoted") else column.name.lower()
        return name if name in own_columns else lowered.get(name)

    return resolve


def _literal(node: exp.Expression) -> object | None:
    """A Python value for a literal (optionally cast, e.g. DATE '2024-01-01'), or None."""
    if isinstance(node, exp.Cast):
        # Only typed date/time literals (DATE '2024-01-01'); other casts may round.
        is_temporal = node.to.is_type(*exp.DataType.TEMPORAL_TYPES)
        inner = node.this
        return inner.this if is_temporal and isinstance(inner, exp.Literal) and inner.is_string else None
    if isinstance(node, exp.Neg):
        value = _literal(node.this)
        return -value if isinstance(value, int) else None
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        # Integers only: a float literal against an integer column would be rounded by the binding.
        try:
            return int(node.this)
        except ValueError:
            return None
    return None


def _translate(node: exp.Expression, resolve: Callable[[exp.Column], str | None]) -> BooleanExpression | None:
    node = node.unnest()
    if isinstance(node, exp.And):
        left, right = _translate(node.left, resolve), _translate(node.right, resolve)
        if left is None or right is None:
            return left or right
        return And(left, right)
    if isinstance(node, exp.Or):
        left, right = _translate(node.left, resolve), _translate(node.right, resolve)
        return Or(left, right) if left is not None and right is not None else None
    for kind, (forward, backward) in _COMPARISONS.items():
        if type(node) is kind:
            return _comparison(node.left, node.right, forward, backward, resolve)
    if isinstance(node, exp.In):
        return _in_list(node, In, resolve)
    if isinstance(node, exp.Not) and isinstance(node.this, exp.In):
        return _in_list(node.this, NotIn, resolve)
    if isinstance(node, exp.Between) and isinstance(node.this, exp.Column):
        name = resolve(node.this)
        low, high = _literal(node.args["low"]), _literal(node.args["high"])
        if name and low is not None and high is not None:
            return And(GreaterThanOrEqual(name, low), LessThanOrEqual(name, high))
        return None
    if isinstance(node, exp.Is) and isinstance(node.this, exp.Column) and isinstance(node.expression, exp.Null):
        name = resolve(node.this)
        return IsNull(name) if name else None
    if isinstance(node, exp.Not) and isinstance(node.this, exp.Is):
        inner = node.this
        if isinstance(inner.this, exp.Column) and isinstance(inner.expression, exp.Null):
            name = resolve(inner.this)
            return NotNull(name) if name else None
        return None
    if isinstance(node, exp.Like) and isinstance(node.this, exp.Column):
        pattern = _literal(node.expression)
        name = resolve(node.this)
        if name and isinstance(pattern, str) and pattern.endswith("%"):
            prefix = pattern[:-1]
            if prefix and not any(ch in prefix for ch in "%_\\"):
                return StartsWith(name, prefix)
    return None


def _in_list(node: exp.In, make: Callable, resolve: Callable[[exp.Column], str | None]) -> BooleanExpression | None:
    """``col [NOT] IN (literal, …)``; never a subquery."""
    if not isinstance(node.this, exp.Column) or node.args.get("query"):
        return None
    name = resolve(node.this)
    values = [_literal(v) for v in node.expressions]
    if name and values and all(v is not None for v in values):
        return make(name, values)
    return None


def _comparison(
    left: exp.Expression,
    right: exp.Expression,
    forward: Callable,
    backward: Callable,
    resolve: Callable[[exp.Column], str | None],
) -> BooleanExpression | None:
    if isinstance(left, exp.Column):
        name, value, make = resolve(left), _literal(right), forward
    elif isinstance(right, exp.Column):
        name, value, make = resolve(right), _literal(left), backward
    else:
        return None
    if not name or value is None:
        return None
    return make(name, value)
