"""``commonlake doctor``: is each configured part reachable and usable, and if not, what to do.

Every check runs on its own (a catalog that is down does not hide a wrong S3 key) and
reports in plain words what is wrong and how to fix it. No check prints a secret: error
texts from drivers are reduced to their codes or to messages that carry none.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from commonlake.settings import Settings

TIMEOUT_SECONDS = 3.0


@dataclass
class CheckResult:
    """The outcome of one check."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict:
        """A JSON-ready form."""
        return asdict(self)


def check_catalog(settings: Settings) -> CheckResult:
    """The REST catalog answers, serves the warehouse and accepts our credentials."""
    from pyiceberg.catalog import load_catalog
    from pyiceberg.exceptions import (
        ForbiddenError,
        NoSuchNamespaceError,
        OAuthError,
        RESTError,
        ServerError,
        UnauthorizedError,
    )

    name, uri = "catalog", settings.catalog_uri
    try:
        httpx.get(f"{uri}/health", timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return CheckResult(
            name,
            False,
            f"Nothing answers at {uri} ({_http_reason(exc)}).",
            "Start the catalog with `commonlake serve catalog`, or point COMMONLAKE_CATALOG__URI at the running one.",
        )
    try:
        catalog = load_catalog("doctor", **settings.rest_catalog_properties())
        namespaces = catalog.list_namespaces()
    except (OAuthError, UnauthorizedError) as exc:
        fix = (
            "Set COMMONLAKE_CATALOG__CREDENTIAL to a client_id:client_secret the catalog knows."
            if not settings.catalog.credential
            else "The catalog does not accept COMMONLAKE_CATALOG__CREDENTIAL: check the client id and secret."
        )
        return CheckResult(name, False, f"The catalog at {uri} refused us: {type(exc).__name__}.", fix)
    except ForbiddenError:
        return CheckResult(
            name,
            False,
            f"The catalog at {uri} knows our credential but it may not use warehouse {settings.catalog.warehouse!r}.",
            "Give the principal a role on this warehouse in the catalog's auth settings.",
        )
    except (NoSuchNamespaceError, RESTError, ServerError) as exc:
        return CheckResult(
            name,
            False,
            f"The catalog at {uri} answered with an error: {type(exc).__name__}: {exc}",
            f"Check that it serves warehouse {settings.catalog.warehouse!r} (COMMONLAKE_CATALOG__WAREHOUSE).",
        )
    except Exception as exc:  # requests' connection errors and anything else PyIceberg lets through
        return CheckResult(name, False, f"Talking to the catalog at {uri} failed: {type(exc).__name__}.", "")
    return CheckResult(
        name, True, f"{uri} serves warehouse {settings.catalog.warehouse!r} ({len(namespaces)} namespaces)."
    )


def check_object_store(settings: Settings) -> CheckResult:
    """The warehouse location can be written, read and deleted from."""
    location = settings.warehouse_location
    if location.startswith("file://"):
        return _check_directory(Path(unquote(urlparse(location).path)))
    if location.startswith(("s3://", "s3a://")):
        return _check_s3(settings, location)
    return CheckResult("object store", False, f"Unknown warehouse scheme in {location}.", "Use file:// or s3://.")


def _check_directory(path: Path) -> CheckResult:
    name = "object store"
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return CheckResult(name, False, f"{existing} is not a directory.", "Point the warehouse at a directory.")
    if existing != path:
        probe_dir = existing
        note = f" ({path} will be created)"
    else:
        probe_dir, note = path, ""
    probe = probe_dir / f".commonlake-doctor-{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return CheckResult(
            name,
            False,
            f"Cannot write to {probe_dir}: {exc.strerror}.",
            "Give this user write access, or set COMMONLAKE_DATA_DIR / COMMONLAKE_STORAGE__WAREHOUSE_LOCATION.",
        )
    return CheckResult(name, True, f"file warehouse {path} is writable{note}.")


def _check_s3(settings: Settings, location: str) -> CheckResult:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

    name = "object store"
    storage = settings.storage
    parsed = urlparse(location)
    bucket, prefix = parsed.netloc, parsed.path.strip("/")
    endpoint = storage.s3_endpoint or "AWS S3"
    client = boto3.client(
        "s3",
        endpoint_url=storage.s3_endpoint,
        aws_access_key_id=storage.s3_access_key_id,
        aws_secret_access_key=storage.s3_secret_access_key.get_secret_value() if storage.s3_secret_access_key else None,
        region_name=storage.s3_region,
        config=Config(
            s3={"addressing_style": "path" if storage.s3_path_style else "virtual"},
            retries={"max_attempts": 1},
            connect_timeout=TIMEOUT_SECONDS,
            read_timeout=TIMEOUT_SECONDS,
        ),
    )
    key = f"{prefix}/.commonlake-doctor-{uuid.uuid4().hex}".lstrip("/")
    try:
        client.put_object(Bucket=bucket, Key=key, Body=b"ok")
        client.get_object(Bucket=bucket, Key=key)["Body"].read()
        client.delete_object(Bucket=bucket, Key=key)
    except EndpointConnectionError:
        return CheckResult(
            name,
            False,
            f"The S3 endpoint {endpoint} is not reachable.",
            "Start the object store, or fix COMMONLAKE_STORAGE__S3_ENDPOINT.",
        )
    except NoCredentialsError:
        return CheckResult(
            name,
            False,
            "No S3 credentials are configured.",
            "Set COMMONLAKE_STORAGE__S3_ACCESS_KEY_ID and COMMONLAKE_STORAGE__S3_SECRET_ACCESS_KEY.",
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "unknown")
        return CheckResult(name, False, f"S3 at {endpoint} refused access to s3://{bucket}: {code}.", _s3_fix(code))
    except BotoCoreError as exc:
        return CheckResult(name, False, f"S3 at {endpoint} failed: {type(exc).__name__}.", "")
    return CheckResult(name, True, f"s3://{bucket}/{prefix} at {endpoint} is writable and readable.")


def _s3_fix(code: str) -> str:
    if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed", "InvalidToken"}:
        return (
            "The object store does not accept these credentials: check COMMONLAKE_STORAGE__S3_ACCESS_KEY_ID and "
            "COMMONLAKE_STORAGE__S3_SECRET_ACCESS_KEY."
        )
    if code == "NoSuchBucket":
        return "Create the bucket, or fix the bucket in COMMONLAKE_STORAGE__WAREHOUSE_LOCATION."
    if code in {"AccessDenied", "Forbidden", "403"}:
        return "The credentials are valid but may not write here: grant them read/write on the warehouse prefix."
    return "Check the object store's logs for this error code."


def check_database(settings: Settings) -> CheckResult:
    """The catalog database accepts connections."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

    name = "database"
    raw = settings.catalog_database_url
    try:
        url = make_url(raw)
    except ArgumentError:
        return CheckResult(name, False, "COMMONLAKE_CATALOG__DATABASE_URL is not a database URL.", "")
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite":
        database = Path(url.database or "")
        if url.database and not database.exists():
            parent = database.parent
            while not parent.exists() and parent != parent.parent:
                parent = parent.parent
            if not parent.is_dir():
                return CheckResult(name, False, f"{parent} is not a directory.", "Fix COMMONLAKE_DATA_DIR.")
            return CheckResult(name, True, f"{shown} does not exist yet; the catalog creates it on start.")
    connect_args = {"connect_timeout": int(TIMEOUT_SECONDS)} if url.get_backend_name() == "postgresql" else {}
    try:
        engine = create_engine(url, connect_args=connect_args)
    except NoSuchModuleError:
        return CheckResult(name, False, f"No SQLAlchemy driver for {url.drivername}.", "Install the driver.")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        return CheckResult(name, False, f"Cannot connect to {shown}: {_db_reason(exc)}.", _db_fix(exc, url))
    except SQLAlchemyError as exc:
        return CheckResult(name, False, f"{shown} failed: {type(exc).__name__}.", "")
    finally:
        engine.dispose()
    return CheckResult(name, True, f"{shown} accepts connections.")


def _db_reason(exc: Exception) -> str:
    message = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
    return message.rstrip(".")


def _db_fix(exc: Exception, url) -> str:
    message = str(getattr(exc, "orig", exc))
    if "does not exist" in message and "database" in message:
        return f"Create the database (`createdb -h {url.host} -U {url.username} {url.database}`)."
    if "password authentication failed" in message or "authentication" in message:
        return "The server rejected the user or password in COMMONLAKE_CATALOG__DATABASE_URL."
    if "Connection refused" in message or "could not connect" in message or "timeout" in message.lower():
        return f"Start the database server at {url.host}:{url.port or 5432}, or fix COMMONLAKE_CATALOG__DATABASE_URL."
    return "Check COMMONLAKE_CATALOG__DATABASE_URL and the database server's log."


def check_gateway(settings: Settings) -> CheckResult:
    """The query gateway answers."""
    name, url = "gateway", settings.gateway_url
    try:
        response = httpx.get(f"{url}/health", timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        return CheckResult(
            name,
            False,
            f"Nothing answers at {url} ({_http_reason(exc)}).",
            "Start it with `commonlake serve gateway`, or fix COMMONLAKE_GATEWAY__HOST / COMMONLAKE_GATEWAY__PORT.",
        )
    if response.status_code != 200:
        return CheckResult(name, False, f"{url}/health answered HTTP {response.status_code}.", "See the gateway's log.")
    return CheckResult(name, True, f"{url} answers.")


def check_bigquery(settings: Settings) -> CheckResult:
    """The BigQuery export's credentials and dataset (only when a dataset is configured)."""
    from operations.bigquery_export import BigQueryExportError, bigquery_client, ensure_dataset

    name = "bigquery export"
    export = settings.export
    try:
        client = bigquery_client(export)
        dataset = ensure_dataset(client, export.bigquery_dataset or "", export.bigquery_location, create=False)
    except BigQueryExportError as exc:
        return CheckResult(name, False, str(exc).split(". ")[0] + ".", str(exc).split(". ", 1)[-1])
    except Exception as exc:
        return CheckResult(name, False, f"BigQuery failed: {type(exc).__name__}.", "Check the export settings.")
    return CheckResult(name, True, f"dataset {dataset} exists.")


def _http_reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {TIMEOUT_SECONDS:.0f}s"
    return type(exc).__name__


CHECKS: tuple[Callable[[Settings], CheckResult], ...] = (
    check_catalog,
    check_object_store,
    check_database,
    check_gateway,
)


def run_checks(settings: Settings) -> list[CheckResult]:
    """Every check for these settings (BigQuery only when a dataset is configured)."""
    checks = list(CHECKS)
    if settings.export.bigquery_dataset:
        checks.append(check_bigquery)
    return [check(settings) for check in checks]
