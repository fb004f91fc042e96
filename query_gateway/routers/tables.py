"""``GET /v1/tables`` and ``GET /v1/tables/{namespace}.{table}``: what can be queried."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pyiceberg.exceptions import NoSuchNamespaceError, NoSuchTableError

from query_gateway.access import require_client
from query_gateway.errors import QueryError

router = APIRouter(tags=["Tables"], dependencies=[Depends(require_client)])


@router.get("/v1/tables")
def list_tables(request: Request) -> dict:
    """Every table, as ``namespace.table`` (``mirror.namespace.table`` in a mirror's nested namespaces)."""
    catalog = request.app.state.catalog
    tables = []
    pending = list(catalog.list_namespaces())
    while pending:
        namespace = pending.pop()
        tables.extend(".".join(identifier) for identifier in catalog.list_tables(namespace))
        if len(namespace) < 2:  # the gateway resolves names of at most three parts
            pending.extend(catalog.list_namespaces(namespace))
    return {"tables": sorted(tables)}


@router.get("/v1/tables/{qualified_name}")
def describe_table(qualified_name: str, request: Request) -> dict[str, Any]:
    """A table's schema, partitioning, properties (a mirror's provenance), snapshots and row count."""
    parts = tuple(qualified_name.split("."))
    if len(parts) not in (2, 3) or not all(parts):
        raise QueryError(f"Name tables as namespace.table or mirror.namespace.table (got {qualified_name!r})")
    try:
        table = request.app.state.catalog.load_table(parts)
    except (NoSuchTableError, NoSuchNamespaceError) as exc:
        raise QueryError(f"Table not found: {qualified_name}", status=404) from exc
    current = table.current_snapshot()
    summary = current.summary.additional_properties if current and current.summary else {}
    return {
        "name": qualified_name,
        "schema": [
            {"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required, "doc": f.doc}
            for f in table.schema().fields
        ],
        "partition_spec": [
            {"source_id": p.source_id, "name": p.name, "transform": str(p.transform)} for p in table.spec().fields
        ],
        "properties": dict(table.properties),
        "current_snapshot_id": current.snapshot_id if current else None,
        "row_count": int(summary.get("total-records", 0)),
        "data_files": int(summary.get("total-data-files", 0)),
        "snapshots": [
            {
                "snapshot_id": s.snapshot_id,
                "parent_snapshot_id": s.parent_snapshot_id,
                "timestamp_ms": s.timestamp_ms,
                "operation": s.summary.operation.value if s.summary else None,
                "summary": dict(s.summary.additional_properties) if s.summary else {},
            }
            for s in table.metadata.snapshots
        ],
    }
