"""The one settings object of Commonlake.

Every option has a default that serves one machine with no setup (SQLite catalog
database, ``file://`` warehouse under ``./.commonlake/``, DuckDB engine). Options are read
from ``COMMONLAKE_*`` environment variables, nested with ``__`` (for example
``COMMONLAKE_CATALOG__PORT=8190``). Only the CLI builds a :class:`Settings` from the
environment; components receive the object (or the part of it they need).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_core import to_jsonable_python
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "COMMONLAKE_"


class StorageSettings(BaseModel):
    """Where data and metadata files live: a ``file://`` directory or an S3 bucket."""

    warehouse_location: str | None = Field(
        default=None,
        description="Root URI of the warehouse (file://… or s3://bucket/prefix). Default: file://<data_dir>/warehouse.",
    )
    s3_endpoint: str | None = Field(default=None, description="S3 endpoint URL (SeaweedFS, MinIO, AWS).")
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str = "us-east-1"
    s3_path_style: bool = True

    def fileio_properties(self) -> dict[str, str]:
        """PyIceberg FileIO properties for this object store (empty for ``file://``)."""
        props: dict[str, str] = {}
        if self.s3_endpoint:
            props["s3.endpoint"] = self.s3_endpoint
            props["s3.region"] = self.s3_region
            # PyIceberg reads force-virtual-addressing; Java clients and DuckDB read path-style-access.
            props["s3.force-virtual-addressing"] = "false" if self.s3_path_style else "true"
            props["s3.path-style-access"] = "true" if self.s3_path_style else "false"
        if self.s3_access_key_id:
            props["s3.access-key-id"] = self.s3_access_key_id
        if self.s3_secret_access_key:
            props["s3.secret-access-key"] = self.s3_secret_access_key.get_secret_value()
        return props


class CatalogPrincipal(BaseModel):
    """A client of the catalog: its hashed secret and its role in each warehouse."""

    secret_hash: SecretStr = Field(
        description="Hash of the client secret, from `commonlake catalog hash-secret` (scrypt$…); never the secret."
    )
    roles: dict[str, Literal["reader", "writer"]] = Field(
        default_factory=dict, description='Role per warehouse name, e.g. {"commonlake": "writer"}; "*" = every one.'
    )


class CatalogAuthSettings(BaseModel):
    """OAuth2 client credentials for the catalog; off by default so embedded use needs no setup."""

    enabled: bool = Field(default=False, description="Require a bearer token (or anonymous_read) on every route.")
    principals: dict[str, CatalogPrincipal] = Field(
        default_factory=dict, description="Principals by client_id (more may live in the catalog database)."
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="HMAC key signing tokens. Default: a random key kept in the catalog database (replicas share it).",
    )
    token_ttl_seconds: int = Field(default=3600, ge=1, description="Lifetime of an issued access token.")
    anonymous_read: bool = Field(
        default=False, description="Let requests without a token read (never write) every warehouse."
    )


class CatalogSettings(BaseModel):
    """The Iceberg REST catalog server."""

    host: str = "127.0.0.1"
    port: int = Field(default=8182, description="Port for `commonlake serve catalog`; the demo picks a free one.")
    uri: str | None = Field(
        default=None, description="URI clients use to reach the catalog. Default: http://<host>:<port>."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the catalog database. Default: sqlite:///<data_dir>/catalog.db.",
    )
    warehouse: str = Field(default="commonlake", description="Name of the warehouse (the REST `prefix`).")
    extra_warehouses: dict[str, str] = Field(
        default_factory=dict, description="More warehouses served by the same catalog: name -> root location."
    )
    credential: SecretStr | None = Field(
        default=None, description="client_id:client_secret that our own components use to reach the catalog."
    )
    max_request_bytes: int = 16 * 1024 * 1024
    metadata_cache_entries: int = 512
    auth: CatalogAuthSettings = Field(default_factory=CatalogAuthSettings)
    idempotency_key_lifetime_seconds: int = Field(
        default=1800, ge=60, description="How long a mutating request's Idempotency-Key is replayed (PT30M)."
    )
    commit_retries: int = Field(
        default=10, ge=0, description="Server-side retries of a commit whose requirements still hold after a race."
    )
    database_synchronous_commit: bool = Field(
        default=True,
        description=(
            "PostgreSQL only. false (an opt-in durability trade-off) sets synchronous_commit=off on the catalog's "
            "connections: a commit is acknowledged before its WAL record reaches disk, so a crash of the database "
            "server or machine can lose the last commits acknowledged (up to about 0.6 s of them at PostgreSQL's "
            "defaults), but never corrupts the catalog. Faster commits where fsync is slow."
        ),
    )


class GatewayApiKey(BaseModel):
    """One API key of the query gateway (sent as ``Authorization: Bearer <key>``) and its rate limit."""

    key: SecretStr
    requests_per_minute: float = 3000.0
    burst: int = Field(default=300, description="Requests allowed at once before the per-minute rate applies.")


class GatewaySettings(BaseModel):
    """The HTTP query gateway."""

    host: str = "127.0.0.1"
    port: int = 8183
    public_url: str | None = Field(
        default=None, description="Base URL clients reach the gateway at (for async-sql result links)."
    )
    row_limit: int = 10_000
    query_timeout_seconds: float = 30.0
    memory_limit_bytes: int = Field(default=2 * 1024**3, description="DataFusion memory pool of each query worker.")
    query_workers: int = Field(default=2, ge=1, description="Query worker processes (a timed-out one is replaced).")
    cache_max_bytes: int = Field(default=256 * 1024**2, description="Result cache size (Arrow bytes).")
    default_namespace: str = Field(default="marts", description="Namespace of unqualified table names (OSO style).")
    namespace_aliases: dict[str, str] = Field(
        default_factory=lambda: {"oso": "marts"}, description="Namespaces queries may use for another one."
    )
    api_keys: dict[str, GatewayApiKey] = Field(
        default_factory=dict, description='API keys by holder name, e.g. {"alice": {"key": "…"}}.'
    )
    allow_anonymous: bool = Field(default=True, description="Answer requests without an API key (tighter limits).")
    anonymous_requests_per_minute: float = 300.0
    anonymous_burst: int = 60
    async_result_ttl_seconds: float = Field(default=3600.0, description="How long async-sql results stay fetchable.")
    async_wait_seconds: float = Field(
        default=5.0, description="How long POST /v1/async-sql waits for a quick query before answering 'running'."
    )


class ModelsSettings(BaseModel):
    """The SQLMesh project."""

    gateway: str = Field(default="local", description="SQLMesh gateway: local (DuckDB), spark or trino.")
    catalog_alias: str = Field(default="ice", description="Name under which engines attach the REST catalog.")
    start: str = Field(default="2024-01-01", description="Earliest date SQLMesh backfills.")
    marts_namespace: str = "marts"
    concurrent_tasks: int = Field(default=2, ge=1, description="Models SQLMesh evaluates at once.")
    spark_master: str = Field(default="local[2]", description="Spark master URL of the `spark` gateway.")
    spark_driver_memory: str = Field(default="2g", description="spark.driver.memory of the `spark` gateway.")
    trino_host: str = Field(default="127.0.0.1", description="Trino coordinator of the `trino` gateway.")
    trino_port: int = 8080
    trino_user: str = "commonlake"
    trino_catalog: str = Field(default="commonlake", description="Trino catalog of infra/trino/commonlake.properties.")
    trino_http_scheme: str = "http"
    state_database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of SQLMesh's state for the `trino` gateway, e.g. postgresql://user@host:5432/db "
        "(default: a DuckDB file in the data directory).",
    )


class BigQueryMirrorSettings(BaseModel):
    """One BigQuery table or query that Dagster mirrors into ``raw.<target>`` (an ingestion asset)."""

    target: str = Field(description="Iceberg table in the raw namespace.")
    cursor: str = Field(description="Cursor column: rows above the last mirrored value are copied.")
    table: str | None = Field(default=None, description="Source table, project.dataset.table.")
    query: str | None = Field(default=None, description="Source query (GoogleSQL) instead of a table.")


class OrchestrationSettings(BaseModel):
    """Dagster: what the assets read, when the pipeline runs, where the web UI listens."""

    gharchive_source: str = Field(
        default="https://data.gharchive.org", description="Directory or HTTP base URL of the GH Archive hour files."
    )
    gharchive_start: str = Field(
        default="2024-01-01-00:00", description="First hourly partition of raw.github_events (YYYY-MM-DD-HH:MM, UTC)."
    )
    ossd_source: str | None = Field(
        default=None, description="oss-directory checkout or .tar.gz that the ossd asset loads."
    )
    bigquery_mirrors: list[BigQueryMirrorSettings] = Field(
        default_factory=list, description="BigQuery tables or queries mirrored into raw tables, one asset each."
    )
    daily_cron: str = Field(default="0 2 * * *", description="When the daily pipeline runs (cron, UTC).")
    sensor_interval_seconds: int = Field(default=300, ge=1, description="How often the new-hour sensor looks.")
    sensor_max_hours_per_tick: int = Field(default=24, ge=1, description="New hours one sensor tick may request.")
    dagster_home: Path | None = Field(default=None, description="DAGSTER_HOME. Default: <data_dir>/dagster.")
    webserver_host: str = "127.0.0.1"
    webserver_port: int = 3000


class MaintenanceSettings(BaseModel):
    """Table maintenance: snapshot expiry, orphan-file removal, compaction."""

    namespaces: list[str] = Field(
        default_factory=lambda: ["raw", "marts", "sqlmesh__*"],
        description="Namespaces whose tables are kept (globs allowed): raw data, published marts, models' tables.",
    )
    snapshot_max_age_hours: float = Field(default=7 * 24, ge=0, description="Expire snapshots older than this.")
    retain_last_snapshots: int = Field(default=5, ge=1, description="Snapshots always kept, however old.")
    orphan_min_age_hours: float = Field(
        default=72, ge=0, description="Only delete unreferenced files older than this (in-flight writes are younger)."
    )
    compaction_target_file_bytes: int = Field(default=128 * 1024**2, ge=1, description="Size compaction aims for.")
    compaction_min_input_files: int = Field(default=5, ge=2, description="Compact a partition from this many files.")
    cron: str = Field(default="0 4 * * 0", description="When the maintenance job runs (cron, UTC).")


class ExportSettings(BaseModel):
    """Mirroring the ``marts.*`` tables to a BigQuery dataset."""

    bigquery_project: str | None = Field(default=None, description="Google Cloud project of the dataset.")
    bigquery_dataset: str | None = Field(default=None, description="Dataset the marts are mirrored into.")
    bigquery_location: str | None = Field(default=None, description="Dataset location (e.g. US).")
    bigquery_api_endpoint: str | None = Field(
        default=None, description="BigQuery API endpoint (an emulator); default: Google's."
    )
    bigquery_credentials_file: Path | None = Field(
        default=None, description="Service-account JSON; default: Application Default Credentials."
    )
    bigquery_anonymous: bool = Field(default=False, description="No credentials (only for an emulator).")


class IngestionSettings(BaseModel):
    """Ingestion: commit sizes, memory, and how the BigQuery mirror reaches BigQuery."""

    batch_rows: int = Field(default=250_000, ge=1, description="GH Archive rows per commit (whole hours).")
    flush_bytes: int = Field(
        default=64 * 1024**2, ge=1024**2, description="Arrow bytes buffered before writing a Parquet file."
    )
    bigquery_project: str | None = Field(default=None, description="Project that runs the mirror's jobs.")
    bigquery_api_endpoint: str | None = Field(default=None, description="BigQuery REST endpoint (an emulator).")
    bigquery_read_endpoint: str | None = Field(
        default=None, description="Storage Read API host:port (an emulator, plain gRPC); default: Google's."
    )
    bigquery_credentials_file: Path | None = Field(
        default=None, description="Service-account JSON; default: Application Default Credentials."
    )
    bigquery_anonymous: bool = Field(default=False, description="No credentials (only for an emulator).")
    bigquery_staging_dataset: str | None = Field(
        default=None, description="project.dataset where mirrored queries are materialized before reading."
    )


class MirrorSettings(BaseModel):
    """Mirrors of other Commonlake nodes (``commonlake mirror``); each mirror's configuration lives in the catalog."""

    copy_workers: int = Field(default=4, ge=1, description="Files a copy-mode refresh copies at once.")
    credentials: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="client_id:client_secret per mirror name; overrides the credential stored with `mirror add`.",
    )
    credential_key: SecretStr | None = Field(
        default=None,
        description="Fernet key that encrypts stored remote credentials. Default: <data_dir>/mirror-credentials.key.",
    )
    sensor_interval_seconds: int = Field(default=300, ge=1, description="How often Dagster looks for remote changes.")


class Settings(BaseSettings):
    """All of Commonlake's configuration."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    data_dir: Path = Field(default=Path(".commonlake"), description="Where embedded state and data live.")
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    orchestration: OrchestrationSettings = Field(default_factory=OrchestrationSettings)
    maintenance: MaintenanceSettings = Field(default_factory=MaintenanceSettings)
    export: ExportSettings = Field(default_factory=ExportSettings)
    ingestion: IngestionSettings = Field(default_factory=IngestionSettings)
    mirror: MirrorSettings = Field(default_factory=MirrorSettings)

    # ---- derived values -------------------------------------------------------------
    @property
    def resolved_data_dir(self) -> Path:
        """The data directory as an absolute path."""
        return self.data_dir.expanduser().resolve()

    @property
    def catalog_database_url(self) -> str:
        """The catalog database URL, defaulting to SQLite in the data directory."""
        return self.catalog.database_url or f"sqlite:///{self.resolved_data_dir / 'catalog.db'}"

    @property
    def warehouse_location(self) -> str:
        """Root URI of the warehouse, defaulting to ``file://<data_dir>/warehouse``."""
        loc = self.storage.warehouse_location or (self.resolved_data_dir / "warehouse").as_uri()
        return loc.rstrip("/")

    @property
    def catalog_uri(self) -> str:
        """The URI at which clients reach the REST catalog."""
        return (self.catalog.uri or f"http://{self.catalog.host}:{self.catalog.port}").rstrip("/")

    @property
    def gateway_url(self) -> str:
        """The URL of the query gateway."""
        return f"http://{self.gateway.host}:{self.gateway.port}"

    def rest_catalog_properties(self) -> dict[str, str]:
        """Properties for a PyIceberg ``RestCatalog`` connected to our catalog server."""
        props = {"type": "rest", "uri": self.catalog_uri, "warehouse": self.catalog.warehouse}
        if self.catalog.credential:
            props["credential"] = self.catalog.credential.get_secret_value()
        props.update(self.storage.fileio_properties())
        return props

    def with_updates(self, **changes: Any) -> Settings:
        """A copy with nested changes applied, e.g. ``with_updates(catalog={"port": 9000})``."""
        data = self.model_dump()
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return Settings.model_validate(_reveal_secrets(data))

    def to_env(self) -> dict[str, str]:
        """These settings as ``COMMONLAKE_*`` environment variables, for a child process."""
        env: dict[str, str] = {}
        for key, value in to_jsonable_python(_reveal_secrets(self.model_dump())).items():
            env[f"{ENV_PREFIX}{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
        # A child process may start in another working directory.
        env[f"{ENV_PREFIX}DATA_DIR"] = str(self.resolved_data_dir)
        return env


def _reveal_secrets(data: Any) -> Any:
    """Replace SecretStr values with their plain values."""
    if isinstance(data, dict):
        return {k: _reveal_secrets(v) for k, v in data.items()}
    if isinstance(data, SecretStr):
        return data.get_secret_value()
    return data
