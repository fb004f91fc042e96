"""The SQLMesh project as Dagster sees it: one node per model, with its real dependencies.

Read from the SQLMesh context at definition time, so a new model appears in the asset
graph without touching this package. External models (the ``raw.*`` tables) are not
nodes: they map onto the ingestion assets' keys. Embedded models have no table; their
dependants depend on what they read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import dagster as dg

from commonlake.settings import Settings

MODEL_KEY_PREFIX = "sqlmesh"


@dataclass(frozen=True)
class AuditCheck:
    """One audit of a model, as a Dagster asset check."""

    check_name: str  # unique per model, e.g. not_null or not_null_2
    audit_name: str
    blocking: bool
    description: str


@dataclass(frozen=True)
class ModelNode:
    """One SQLMesh model with a table."""

    name: str  # schema.model, e.g. marts.projects_v1
    fqn: str  # as SQLMesh names it, e.g. "ice"."marts"."projects_v1"
    kind: str
    description: str | None
    deps: tuple[dg.AssetKey, ...]
    audits: tuple[AuditCheck, ...] = field(default_factory=tuple)

    @property
    def key(self) -> dg.AssetKey:
        """The model's asset key: sqlmesh/<schema>/<model>."""
        return model_key(self.name)

    @property
    def schema(self) -> str:
        """The model's schema (staging, intermediate, marts, …)."""
        return self.name.split(".")[0]


def model_key(name: str) -> dg.AssetKey:
    """Asset key of a SQLMesh model named ``schema.model``."""
    return dg.AssetKey([MODEL_KEY_PREFIX, *name.split(".")])


def external_key(name: str) -> dg.AssetKey:
    """Asset key of an external model (a raw table written by ingestion): its table name."""
    return dg.AssetKey(name.split("."))


def _short_name(model) -> str:
    return ".".join(model.name.split(".")[-2:])


def _check_names(model) -> tuple[AuditCheck, ...]:
    checks: list[AuditCheck] = []
    used: dict[str, int] = {}
    for audit, args in model.audits_with_args:
        base = re.sub(r"\W", "_", audit.name)
        used[base] = used.get(base, 0) + 1
        name = base if used[base] == 1 else f"{base}_{used[base]}"
        shown = ", ".join(f"{k}={v.sql() if hasattr(v, 'sql') else v}" for k, v in args.items())
        blocking = bool(getattr(audit, "blocking", True))
        checks.append(AuditCheck(name, audit.name, blocking, f"SQLMesh audit {audit.name}({shown})"))
    return tuple(checks)


def model_nodes(context) -> list[ModelNode]:
    """Nodes of every model with a table in a SQLMesh context, in the DAG's order."""
    models = context.models
    # Plain strings: Dagster serializes metadata and refuses SQLMesh's ModelKindName enum.
    kinds = {fqn: getattr(model.kind.name, "value", str(model.kind.name)) for fqn, model in models.items()}

    def resolved(fqn: str, seen: frozenset[str] = frozenset()) -> set[dg.AssetKey]:
        model = models.get(fqn)
        if model is None:  # a table SQLMesh does not know: nothing to depend on
            return set()
        if kinds[fqn] == "EXTERNAL":
            return {external_key(_short_name(model))}
        if kinds[fqn] == "EMBEDDED":
            keys: set[dg.AssetKey] = set()
            for parent in model.depends_on - seen:
                keys |= resolved(parent, seen | {fqn})
            return keys
        return {model_key(_short_name(model))}

    nodes = []
    for fqn in context.dag.sorted:
        model = models.get(fqn)
        if model is None or kinds[fqn] in {"EXTERNAL", "EMBEDDED"}:
            continue
        deps: set[dg.AssetKey] = set()
        for parent in model.depends_on:
            deps |= resolved(parent)
        nodes.append(
            ModelNode(
                name=_short_name(model),
                fqn=fqn,
                kind=kinds[fqn],
                description=model.description,
                deps=tuple(sorted(deps, key=lambda k: k.to_user_string())),
                audits=_check_names(model),
            )
        )
    return nodes


def load_model_nodes(settings: Settings) -> list[ModelNode]:
    """The project's model nodes (loads the SQLMesh project; needs no running catalog)."""
    from orchestration.model_runs import model_context

    context = model_context(settings)
    try:
        return model_nodes(context)
    finally:
        context.close()
