"""Running a subset of the SQLMesh project for Dagster, and reading back what it made.

A thin adapter over the runner's ``make_context``/``prepare_catalog`` and SQLMesh's public
``Context`` API: ``runner.run_models`` always runs the whole project, while Dagster
materializes whatever subset of models the user selects. A prod plan with
``select_models`` applies and backfills only those models (the others keep their prod
versions), then ``run`` processes their new intervals. Audits are evaluated afterwards
over the model's whole range, so each asset check reports the table as it stands.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchTableError

from commonlake.settings import Settings
from orchestration.model_graph import ModelNode


class ModelsFailed(RuntimeError):
    """SQLMesh could not plan or run the selected models."""


@dataclass
class AuditOutcome:
    """The result of one audit."""

    check_name: str
    passed: bool
    failing_rows: int | None
    skipped: bool = False


@dataclass
class ModelOutcome:
    """What one model's table holds after the run."""

    node: ModelNode
    physical_table: str | None = None
    snapshot_id: int | None = None
    rows: int | None = None
    audits: list[AuditOutcome] = field(default_factory=list)


def model_context(settings: Settings):  # -> sqlmesh.Context
    """The SQLMesh context of the project on this settings' catalog (imported lazily)."""
    from sqlmesh_project.runner import make_context

    return make_context(settings)


def run_selected_models(
    settings: Settings, catalog: Catalog, nodes: Sequence[ModelNode], whole_project: bool
) -> list[ModelOutcome]:
    """Plan and run the selected models in prod, then evaluate their audits."""
    from sqlmesh_project.runner import physical_identifier, prepare_catalog

    prepare_catalog(catalog, settings)
    selection = None if whole_project else [node.fqn for node in nodes]
    with sqlmesh_output() as output:  # the context keeps writing to it after the block
        context = model_context(settings)
    try:
        try:
            context.plan("prod", select_models=selection, auto_apply=True, no_prompts=True)
            completion = context.run("prod", select_models=selection)
        except Exception as exc:
            log = _keep_output(output, settings)
            raise ModelsFailed(f"SQLMesh failed: {_explain(exc)}\n{_failures(output)}\n(full output: {log})") from exc
        if completion.is_failure:
            log = _keep_output(output, settings)
            raise ModelsFailed(f"SQLMesh run failed:\n{_failures(output)}\n(full output: {log})")
        outcomes = []
        for node in nodes:
            outcome = ModelOutcome(node)
            try:
                identifier = physical_identifier(context, node.name, settings)
                table = catalog.load_table(identifier)
                snapshot = table.current_snapshot()
                outcome.physical_table = ".".join(identifier)
                outcome.snapshot_id = snapshot.snapshot_id if snapshot else None
                if snapshot is not None and snapshot.summary is not None:
                    outcome.rows = int(snapshot.summary.additional_properties.get("total-records", 0))
            except (NoSuchTableError, IndexError, ValueError):
                pass  # a model without an Iceberg table (e.g. a view): no table metadata
            outcome.audits = _audit(context, node, settings)
            outcomes.append(outcome)
        return outcomes
    finally:
        context.close()


@contextmanager
def sqlmesh_output() -> Iterator[io.StringIO]:
    """SQLMesh's console output in a buffer (its failures name the model and the error only there)."""
    from rich.console import Console as RichConsole
    from sqlmesh.core.console import TerminalConsole, get_console, set_console

    buffer = io.StringIO()
    previous = get_console()
    set_console(TerminalConsole(console=RichConsole(file=buffer, width=160, force_terminal=False)))
    try:
        yield buffer
    finally:
        set_console(previous)


def _keep_output(output: io.StringIO, settings: Settings) -> Path:
    """Write SQLMesh's whole output next to the other logs; returns the file."""
    logs = settings.resolved_data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / f"sqlmesh-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
    path.write_text(output.getvalue())
    return path


def _failures(output: io.StringIO, limit: int = 4000) -> str:
    """The part of SQLMesh's output that names the failed models and their errors."""
    text = output.getvalue()
    start = text.find("Failed models")
    if start < 0:
        return text.strip()[-limit:]
    end = text.find("Skipped models", start)
    return text[start : end if end > 0 else None].strip()[:limit]


def _explain(exc: BaseException) -> str:
    """The exception and its causes, innermost last ("Plan application failed." alone says nothing)."""
    parts, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}: {current}".strip())
        for inner in getattr(current, "errors", None) or []:  # NodeExecutionFailedError groups
            parts.append(f"{type(inner).__name__}: {inner}".strip())
        current = current.__cause__ or current.__context__
    return " <- ".join(parts)[:4000]


def _audit(context, node: ModelNode, settings: Settings) -> list[AuditOutcome]:
    if not node.audits:
        return []
    snapshot = context.get_snapshot(node.fqn, raise_if_missing=True)
    results = context.snapshot_evaluator.audit(
        snapshot=snapshot, snapshots=context.snapshots, start=settings.models.start, end=datetime.now(UTC)
    )
    outcomes = []
    for check, result in zip(node.audits, results, strict=False):
        failing = result.count
        outcomes.append(AuditOutcome(check.check_name, result.skipped or not failing, failing, result.skipped))
    return outcomes
