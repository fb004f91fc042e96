"""``@entity_id(source, namespace, name)``: a deterministic id, identical on every engine.

The id is the lower-case hex SHA-256 of the parts joined by ``|`` (NULL parts as empty
strings). Each engine spells that differently (Trino's SHA256 takes and returns
varbinary; Spark's is SHA2), so the macro builds the expression for the engine the
gateway runs on (the ``engine_dialect`` variable), not for the dialect models are written in.
"""

from __future__ import annotations

from sqlglot import exp
from sqlmesh import macro
from sqlmesh.core.macros import MacroEvaluator

SEPARATOR = "|"


def _joined(parts: tuple[exp.Expression, ...]) -> exp.Expression:
    args: list[exp.Expression] = []
    for index, part in enumerate(parts):
        if index:
            args.append(exp.Literal.string(SEPARATOR))
        args.append(exp.func("COALESCE", exp.cast(part, "VARCHAR"), exp.Literal.string("")))
    return exp.func("CONCAT", *args)


@macro()
def entity_id(evaluator: MacroEvaluator, *parts: exp.Expression) -> exp.Expression:
    """Hash of the parts as lower-case hex, for the engine's dialect."""
    joined = _joined(parts)
    dialect = evaluator.var("engine_dialect") or evaluator.dialect
    if dialect == "trino":
        digest = exp.Anonymous(
            this="TO_HEX",
            expressions=[
                exp.Anonymous(this="SHA256", expressions=[exp.Anonymous(this="TO_UTF8", expressions=[joined])])
            ],
        )
        return exp.func("LOWER", digest)
    if dialect == "spark":
        return exp.func("SHA2", joined, exp.Literal.number(256))
    return exp.func("SHA256", joined)
