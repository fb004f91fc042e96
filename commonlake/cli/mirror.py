"""``commonlake mirror …``: mirror (or fork from) another Commonlake node's tables."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from commonlake.cli.common import DataDir, console, load_settings

if TYPE_CHECKING:
    from mirror import RefreshReport

app = typer.Typer(help="Mirror another Commonlake node's tables into this one (read-only).", no_args_is_help=True)


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]✗[/] {exc}")
    return typer.Exit(code=1)


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The mirror's name: its tables appear as NAME.<namespace>.<table>.")],
    remote: Annotated[str, typer.Option("--from", help="The remote node's Iceberg REST catalog URI.")],
    namespaces: Annotated[str, typer.Option(help="Remote namespaces to mirror, comma-separated.")] = "marts",
    mode: Annotated[str, typer.Option(help="register (zero-copy, shared storage) or copy.")] = "copy",
    credential: Annotated[
        str | None,
        typer.Option(
            envvar="COMMONLAKE_MIRROR_CREDENTIAL",
            show_envvar=True,
            help="client_id:secret for a private remote (stored encrypted; prefer the env var).",
        ),
    ] = None,
    warehouse: Annotated[str | None, typer.Option(help="The remote's warehouse (default: its default).")] = None,
    refresh: Annotated[bool, typer.Option(help="Mirror the tables now.")] = True,
    data_dir: DataDir = None,
) -> None:
    """Add a mirror of a remote node's namespaces, then (by default) mirror them."""
    from mirror import MirrorError, add_mirror

    settings = load_settings(data_dir)
    try:
        config = add_mirror(settings, name, remote, namespaces, mode, credential, warehouse)
    except MirrorError as exc:
        raise _fail(exc) from None
    spelled = ", ".join(".".join(ns) for ns in config.namespaces)
    console.print(f"[green]✓[/] mirror {name!r} of {config.remote_uri} ({config.mode} mode): {spelled}")
    if refresh:
        _refresh_one(settings, name)


@app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    data_dir: DataDir = None,
) -> None:
    """The mirrors of this node (credentials are never shown)."""
    from mirror import MirrorError, list_mirrors

    settings = load_settings(data_dir)
    try:
        mirrors = list_mirrors(settings)
    except MirrorError as exc:
        raise _fail(exc) from None
    rows = [
        {
            "name": m.name,
            "remote": m.remote_uri,
            "warehouse": m.remote_warehouse,
            "mode": m.mode,
            "namespaces": [".".join(ns) for ns in m.namespaces],
            "credential": "stored (encrypted)" if m.credential_stored else "none",
            "last_refresh": m.last_refresh,
        }
        for m in mirrors
    ]
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table(title="Mirrors")
    for column in ("name", "remote", "mode", "namespaces", "credential", "last refresh"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["name"],
            row["remote"] + (f" ({row['warehouse']})" if row["warehouse"] else ""),
            row["mode"],
            ", ".join(row["namespaces"]),
            row["credential"],
            _describe_last(row["last_refresh"]),
        )
    console.print(table if rows else "No mirrors yet: `commonlake mirror add NAME --from URI`.")


def _describe_last(last: dict | None) -> str:
    if not last:
        return "never"
    when = datetime.fromtimestamp(last["at_ms"] / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    state = "ok" if last.get("ok") else f"FAILED ({len(last.get('failed', []))} tables)"
    return f"{when}: {state}, {last.get('changed', 0)} changed of {last.get('tables', 0)}"


@app.command("refresh")
def refresh(
    name: Annotated[str | None, typer.Argument(help="The mirror to refresh (default: every one).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Bring mirrors up to date with their remotes (exit code 1 when a table fails)."""
    from mirror import MirrorError, list_mirrors

    settings = load_settings(data_dir)
    try:
        names = [name] if name else [m.name for m in list_mirrors(settings)]
    except MirrorError as exc:
        raise _fail(exc) from None
    ok = True
    for mirror_name in names:
        ok = (
            _plan_one(settings, mirror_name) if dry_run else _refresh_one(settings, mirror_name, exit_on_error=False)
        ) and ok
    if not ok:
        raise typer.Exit(code=1)


def _plan_one(settings, name: str) -> bool:  # type: ignore[no-untyped-def]
    from mirror import MirrorError, plan_refresh

    try:
        plan = plan_refresh(settings, name)
    except MirrorError as exc:
        console.print(f"[red]✗[/] {name}: {exc}")
        return False
    table = Table(title=f"Mirror {name}: what a refresh would do")
    for column in ("table", "source", "action", "note"):
        table.add_column(column)
    for planned in plan.tables:
        source = planned.remote.qualified if planned.remote else ""
        note = planned.reason or (f"rename from {'.'.join(planned.rename_from)}" if planned.rename_from else "")
        table.add_row(".".join(planned.local), source, planned.action.value, note)
    console.print(table)
    return True


def _refresh_one(settings, name: str, exit_on_error: bool = True) -> bool:  # type: ignore[no-untyped-def]
    from mirror import MirrorError, refresh_mirror

    try:
        with console.status(f"Refreshing mirror {name}…"):
            report = refresh_mirror(settings, name)
    except MirrorError as exc:
        if exit_on_error:
            raise _fail(exc) from None
        console.print(f"[red]✗[/] {name}: {exc}")
        return False
    console.print(_report_table(report))
    if not report.ok and exit_on_error:
        raise typer.Exit(code=1)
    return report.ok


def _report_table(report: RefreshReport) -> Table:
    stats = report.stats
    table = Table(
        title=f"Mirror {report.mirror} ({report.mode}): {stats.files_copied} files, "
        f"{stats.bytes_copied:,} bytes copied in {report.seconds:.2f}s"
    )
    for column in ("table", "source", "result", "snapshot", "files", "bytes", "note"):
        table.add_column(column, justify="right" if column in ("files", "bytes") else "left")
    for outcome in report.outcomes:
        colour = "red" if not outcome.ok else ("green" if outcome.action in ("created", "updated", "renamed") else "")
        table.add_row(
            outcome.table,
            outcome.source,
            f"[{colour}]{outcome.action}[/]" if colour else outcome.action,
            str(outcome.snapshot_id or ""),
            str(outcome.stats.files_copied),
            f"{outcome.stats.bytes_copied:,}",
            outcome.message,
        )
    return table


@app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The mirror to remove.")],
    data_dir: DataDir = None,
) -> None:
    """Drop a mirror's local tables (copied files purged; never the remote's) and its namespaces."""
    from mirror import MirrorError, remove_mirror

    settings = load_settings(data_dir)
    try:
        dropped = remove_mirror(settings, name)
    except MirrorError as exc:
        raise _fail(exc) from None
    console.print(f"[green]✓[/] mirror {name!r} removed ({len(dropped)} tables dropped)")
