"""The SQLMesh models as Dagster assets: one subsettable multi-asset, audits as asset checks.

Why our own integration rather than ``dagster-sqlmesh`` (0.22.0): it builds its SQLMesh
context from the project directory's own config (ours is built from the one Settings
object, which components must receive, not read from the environment), it fails on a
fresh state with external models (KeyError), and it has no notion of publishing marts.
SQLMesh's Python API gives all we need: the DAG for the asset graph, ``plan`` and
``run`` with ``select_models`` for subsets, and the snapshot evaluator for audits.
"""

# No `from __future__ import annotations`: Dagster reads these functions' annotations at run time.
from collections.abc import Iterator, Sequence

import dagster as dg

from orchestration.model_graph import ModelNode
from orchestration.resources import Lakehouse


def model_asset_specs(nodes: Sequence[ModelNode]) -> list[dg.AssetSpec]:
    """One asset spec per model, with its real dependencies."""
    return [
        dg.AssetSpec(
            node.key,
            deps=list(node.deps),
            description=node.description,
            group_name=node.schema,
            kinds={"sqlmesh", "iceberg"},
            metadata={"sqlmesh_model": node.name, "sqlmesh_kind": node.kind},
            skippable=True,
        )
        for node in nodes
    ]


def model_check_specs(nodes: Sequence[ModelNode]) -> list[dg.AssetCheckSpec]:
    """One asset check per audit of each model (blocking audits block downstream assets)."""
    return [
        dg.AssetCheckSpec(check.check_name, asset=node.key, blocking=check.blocking, description=check.description)
        for node in nodes
        for check in node.audits
    ]


def build_model_assets(nodes: Sequence[ModelNode]) -> dg.AssetsDefinition:
    """The multi-asset over every model of the SQLMesh project."""
    by_key = {node.key: node for node in nodes}

    @dg.multi_asset(
        name="sqlmesh_models",
        specs=model_asset_specs(nodes),
        check_specs=model_check_specs(nodes),
        can_subset=True,
        description="The SQLMesh project (DuckDB engine, tables in the Iceberg catalog).",
    )
    def sqlmesh_models(context: dg.AssetExecutionContext, lakehouse: dg.ResourceParam[Lakehouse]) -> Iterator:
        from orchestration.model_runs import ModelsFailed, run_selected_models

        selected = [by_key[key] for key in context.selected_asset_keys if key in by_key]
        selected.sort(key=lambda node: nodes.index(node))
        try:
            outcomes = run_selected_models(
                lakehouse.settings, lakehouse.catalog(), selected, whole_project=len(selected) == len(nodes)
            )
        except ModelsFailed as exc:
            raise dg.Failure(description=str(exc)) from exc
        wanted_checks = context.selected_asset_check_keys
        for outcome in outcomes:
            key = outcome.node.key
            metadata: dict[str, dg.MetadataValue] = {}
            if outcome.physical_table:
                metadata["physical_table"] = dg.MetadataValue.text(outcome.physical_table)
            if outcome.snapshot_id is not None:
                metadata["snapshot_id"] = dg.MetadataValue.text(str(outcome.snapshot_id))
            if outcome.rows is not None:
                metadata["dagster/row_count"] = dg.MetadataValue.int(outcome.rows)
            yield dg.MaterializeResult(asset_key=key, metadata=metadata)
            for audit in outcome.audits:
                if dg.AssetCheckKey(key, audit.check_name) not in wanted_checks:
                    continue
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name=audit.check_name,
                    passed=audit.passed,
                    metadata={
                        "failing_rows": dg.MetadataValue.int(audit.failing_rows or 0),
                        "skipped": dg.MetadataValue.bool(audit.skipped),
                    },
                )

    return sqlmesh_models
