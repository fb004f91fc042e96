"""Attaching DuckDB to the Commonlake REST catalog, offline.

DuckDB's ``INSTALL iceberg`` downloads from the internet; the ``duckdb-extension-*``
wheels carry the same extensions, so we import them from there instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

    from commonlake.settings import Settings

# Order matters: iceberg depends on avro and httpfs.
ICEBERG_EXTENSIONS = ("avro", "httpfs", "iceberg")


def load_iceberg_extensions(con: duckdb.DuckDBPyConnection) -> None:
    """Load avro, httpfs and iceberg into a DuckDB connection from the installed wheels."""
    import duckdb_extensions

    loaded = {row[0] for row in con.execute("SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
    for name in ICEBERG_EXTENSIONS:
        if name not in loaded:
            duckdb_extensions.import_extension(name, con=con)
    con.execute("LOAD iceberg")


def secret_statements(settings: Settings, secret_name: str = "commonlake_catalog") -> list[str]:
    """CREATE SECRET statements DuckDB needs for the catalog's OAuth2 and for S3."""
    statements = []
    if settings.catalog.credential:
        client_id, _, client_secret = settings.catalog.credential.get_secret_value().partition(":")
        token_uri = settings.catalog_uri + "/v1/oauth/tokens"
        statements.append(
            f"CREATE OR REPLACE SECRET {secret_name} (TYPE iceberg, CLIENT_ID {_quote(client_id)}, "
            f"CLIENT_SECRET {_quote(client_secret)}, OAUTH2_SERVER_URI {_quote(token_uri)})"
        )
    storage = settings.storage
    if storage.s3_endpoint:
        endpoint = storage.s3_endpoint.split("://", 1)[-1].rstrip("/")
        parts = [
            "TYPE s3",
            f"ENDPOINT {_quote(endpoint)}",
            f"REGION {_quote(storage.s3_region)}",
            f"URL_STYLE {_quote('path' if storage.s3_path_style else 'vhost')}",
            f"USE_SSL {'true' if storage.s3_endpoint.startswith('https') else 'false'}",
        ]
        if storage.s3_access_key_id:
            parts.append(f"KEY_ID {_quote(storage.s3_access_key_id)}")
        if storage.s3_secret_access_key:
            parts.append(f"SECRET {_quote(storage.s3_secret_access_key.get_secret_value())}")
        statements.append(f"CREATE OR REPLACE SECRET commonlake_s3 ({', '.join(parts)})")
    return statements


def attach_statement(
    settings: Settings,
    alias: str = "commonlake",
    default_schema: str | None = None,
    secret_name: str = "commonlake_catalog",
) -> str:
    """The ``ATTACH`` statement for the catalog (copy-pasteable into a DuckDB shell)."""
    options = ["TYPE iceberg", f"ENDPOINT {_quote(settings.catalog_uri)}"]
    if settings.catalog.credential:
        options.append(f"SECRET {secret_name}")
    else:
        options.append("AUTHORIZATION_TYPE 'none'")
    if default_schema:
        options.append(f"DEFAULT_SCHEMA {_quote(default_schema)}")
    return f'ATTACH IF NOT EXISTS {_quote(settings.catalog.warehouse)} AS "{alias}" ({", ".join(options)})'


def connect(settings: Settings, alias: str = "commonlake", database: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the catalog attached as ``alias``."""
    import duckdb

    con = duckdb.connect(database)
    load_iceberg_extensions(con)
    for statement in secret_statements(settings):
        con.execute(statement)
    con.execute(attach_statement(settings, alias))
    return con


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
