"""``commonlake catalog …``: manage the REST catalog's principals (auth)."""

from __future__ import annotations

from typing import Annotated

import typer

from commonlake.cli.common import DataDir, console, load_settings

app = typer.Typer(help="Manage the REST catalog's principals.", no_args_is_help=True)


def _parse_roles(roles: list[str]) -> dict[str, str]:
    parsed = {}
    for item in roles:
        warehouse, sep, role = item.partition("=")
        if not sep or role not in ("reader", "writer"):
            raise typer.BadParameter(f"{item!r}: use WAREHOUSE=reader or WAREHOUSE=writer ('*' for every warehouse)")
        parsed[warehouse] = role
    return parsed


@app.command("hash-secret")
def hash_secret_command(
    secret: Annotated[str, typer.Option(prompt=True, hide_input=True, help="The client secret to hash.")],
) -> None:
    """Print the hash of a client secret, for `COMMONLAKE_CATALOG__AUTH__PRINCIPALS`."""
    from catalog.auth.secrets import hash_secret

    console.print(hash_secret(secret), soft_wrap=True)


@app.command("add-principal")
def add_principal(
    client_id: Annotated[str, typer.Argument(help="The principal's client_id.")],
    role: Annotated[list[str], typer.Option(help="WAREHOUSE=reader|writer (repeatable).")],
    data_dir: DataDir = None,
) -> None:
    """Store a principal in the catalog database; prints its new secret once (only its hash is kept)."""
    from catalog.auth.authenticator import Authenticator
    from catalog.auth.secrets import hash_secret, new_secret
    from catalog.store import CatalogStore

    settings = load_settings(data_dir)
    roles = _parse_roles(role)
    secret = new_secret()
    store = CatalogStore.from_url(settings.catalog_database_url)
    try:
        Authenticator(settings.catalog.auth, store).add_principal(client_id, hash_secret(secret), roles)
    finally:
        store.close()
    console.print(f"principal {client_id!r} added with roles {roles}")
    console.print(f"credential (shown once): {client_id}:{secret}", soft_wrap=True)
