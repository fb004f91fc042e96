"""Publishing: each SQLMesh mart as the stable Iceberg table ``marts.<name>``, and its BigQuery mirror."""

# No `from __future__ import annotations`: Dagster reads these functions' annotations at run time.
from collections.abc import Iterator, Sequence

import dagster as dg

from commonlake.settings import Settings
from orchestration.model_graph import ModelNode
from orchestration.resources import Lakehouse


def mart_nodes(nodes: Sequence[ModelNode]) -> list[ModelNode]:
    """The models that are marts (schema ``marts``)."""
    return [node for node in nodes if node.schema == "marts"]


def published_key(settings: Settings, node: ModelNode) -> dg.AssetKey:
    """Asset key of a published mart: its Iceberg table name."""
    return dg.AssetKey([settings.models.marts_namespace, node.name.split(".", 1)[1]])


def bigquery_key(node: ModelNode) -> dg.AssetKey:
    """Asset key of a mart's BigQuery mirror."""
    return dg.AssetKey(["bigquery", node.name.split(".", 1)[1]])


def build_publishing_assets(settings: Settings, nodes: Sequence[ModelNode]) -> dg.AssetsDefinition:
    """``marts/<name>``: the stable Iceberg tables readers use, one per SQLMesh mart."""
    marts = mart_nodes(nodes)
    by_key = {published_key(settings, node): node for node in marts}

    @dg.multi_asset(
        name="published_marts",
        specs=[
            dg.AssetSpec(
                key,
                deps=[node.key],
                group_name="published",
                kinds={"iceberg"},
                description=f"Stable Iceberg table {'.'.join(key.path)}: the current rows of SQLMesh's {node.name}.",
                skippable=True,
            )
            for key, node in by_key.items()
        ],
        can_subset=True,
    )
    def published_marts(context: dg.AssetExecutionContext, lakehouse: dg.ResourceParam[Lakehouse]) -> Iterator:
        from orchestration.model_runs import model_context as fresh_context
        from sqlmesh_project.runner import physical_identifier, publish_table

        catalog = lakehouse.catalog()
        model_context = fresh_context(lakehouse.settings)
        try:
            for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
                node = by_key[key]
                source = catalog.load_table(physical_identifier(model_context, node.name, lakehouse.settings))
                rows = publish_table(catalog, source, (key.path[0], key.path[1]))
                target = catalog.load_table((key.path[0], key.path[1]))
                snapshot = target.current_snapshot()
                yield dg.MaterializeResult(
                    asset_key=key,
                    metadata={
                        "published": dg.MetadataValue.bool(rows is not None),
                        "dagster/row_count": dg.MetadataValue.int(
                            int(snapshot.summary.additional_properties.get("total-records", 0))
                            if snapshot and snapshot.summary
                            else 0
                        ),
                        "snapshot_id": dg.MetadataValue.text(str(snapshot.snapshot_id if snapshot else None)),
                    },
                )
        finally:
            model_context.close()

    return published_marts


def build_bigquery_assets(settings: Settings, nodes: Sequence[ModelNode]) -> dg.AssetsDefinition:
    """``bigquery/<name>``: each published mart mirrored into the configured BigQuery dataset."""
    marts = mart_nodes(nodes)
    by_key = {bigquery_key(node): published_key(settings, node) for node in marts}
    dataset = settings.export.bigquery_dataset

    @dg.multi_asset(
        name="bigquery_mirror",
        specs=[
            dg.AssetSpec(
                key,
                deps=[source],
                group_name="bigquery",
                kinds={"bigquery"},
                description=f"BigQuery mirror of {'.'.join(source.path)} in dataset {dataset}.",
                skippable=True,
            )
            for key, source in by_key.items()
        ],
        can_subset=True,
    )
    def bigquery_mirror(context: dg.AssetExecutionContext, lakehouse: dg.ResourceParam[Lakehouse]) -> Iterator:
        from operations.bigquery_export import BigQueryExportError, export_marts

        selected = sorted(context.selected_asset_keys, key=lambda k: k.to_user_string())
        names = [by_key[key].path[1] for key in selected]
        try:
            mirrored = export_marts(
                lakehouse.catalog(), lakehouse.settings.export, lakehouse.settings.models.marts_namespace, tables=names
            )
        except BigQueryExportError as exc:
            raise dg.Failure(description=str(exc)) from exc
        by_table = {result.source.split(".")[-1]: result for result in mirrored}
        for key in selected:
            result = by_table[by_key[key].path[1]]
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "destination": dg.MetadataValue.text(result.destination),
                    "snapshot_id": dg.MetadataValue.text(str(result.snapshot_id)),
                    "dagster/row_count": dg.MetadataValue.int(result.rows),
                    "loaded": dg.MetadataValue.bool(result.loaded),
                },
            )

    return bigquery_mirror
