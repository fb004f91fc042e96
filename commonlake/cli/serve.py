"""``commonlake serve catalog|gateway``: run one server on its own."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from commonlake.cli.common import DataDir, load_settings
from commonlake.settings import Settings

app = typer.Typer(help="Run one server on its own.", no_args_is_help=True)

Host = Annotated[str | None, typer.Option(help="Bind address.")]
Port = Annotated[int | None, typer.Option(help="Port.")]
Workers = Annotated[int, typer.Option(min=1, help="Worker processes.")]


def _serve(factory: str, section: str, settings: Settings, host: str | None, port: int | None, workers: int) -> None:
    import uvicorn

    changes = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    if changes:
        settings = settings.with_updates(**{section: changes})
    part = getattr(settings, section)
    # Worker processes build their app from the environment (commonlake.asgi).
    os.environ.update(settings.to_env())
    uvicorn.run(
        factory,
        factory=True,
        host=part.host,
        port=part.port,
        workers=workers,
        log_level="warning",
        access_log=False,
        # Longer than clients' idle pools: with uvicorn's 5 s default a client reusing an idle
        # keep-alive connection races the server closing it (PyIceberg: RemoteDisconnected).
        timeout_keep_alive=75,
    )


@app.command("catalog")
def serve_catalog(host: Host = None, port: Port = None, workers: Workers = 1, data_dir: DataDir = None) -> None:
    """Run the Iceberg REST catalog server."""
    _serve("commonlake.asgi:catalog_app", "catalog", load_settings(data_dir), host, port, workers)


@app.command("gateway")
def serve_gateway(
    host: Host = None,
    port: Port = None,
    workers: Workers = 1,
    data_dir: DataDir = None,
    query_workers: Annotated[int | None, typer.Option(min=1, help="DataFusion worker processes per server.")] = None,
    query_timeout: Annotated[float | None, typer.Option(min=0.1, help="Per-query time limit (seconds).")] = None,
) -> None:
    """Run the query gateway (it reads tables through the configured catalog)."""
    settings = load_settings(data_dir)
    limits = {"query_workers": query_workers, "query_timeout_seconds": query_timeout}
    if any(v is not None for v in limits.values()):
        settings = settings.with_updates(gateway={k: v for k, v in limits.items() if v is not None})
    _serve("commonlake.asgi:gateway_app", "gateway", settings, host, port, workers)
