"""OAuth2 client credentials, roles per warehouse, anonymous reads, and secrets kept out of sight."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import jwt
import pyarrow as pa
import pytest
from pyiceberg.catalog import load_catalog
from pyiceberg.exceptions import ForbiddenError, OAuthError

from catalog.auth.secrets import hash_secret
from tests.catalog.conftest import BACKENDS, ScratchDatabase, catalog_settings
from tests.conftest import RunningCatalog, start_catalog

SIGNING_KEY = "k" * 40
S3_SECRET = "s3-secret-value-never-shown"
TOKENS = "/v1/oauth/tokens"


def principals() -> dict:
    return {
        "etl": {"secret_hash": hash_secret("etl-secret"), "roles": {"commonlake": "writer", "other": "reader"}},
        "analyst": {"secret_hash": hash_secret("analyst-secret"), "roles": {"commonlake": "reader"}},
    }


@pytest.fixture(scope="module", params=BACKENDS)
def secured(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCatalog]:
    """Auth on, no anonymous access; two warehouses; S3 keys configured (never to be leaked)."""
    databases = [ScratchDatabase.create()] if request.param == "postgres" else []
    data_dir = tmp_path_factory.mktemp("secured")
    auth = {"enabled": True, "principals": principals(), "signing_key": SIGNING_KEY}
    settings = catalog_settings(
        data_dir,
        databases[0].url if databases else None,
        auth=auth,
        credential="etl:etl-secret",
        extra_warehouses={"other": (data_dir / "other-warehouse").as_uri()},
    ).with_updates(storage={"s3_access_key_id": "AKIDEXAMPLE", "s3_secret_access_key": S3_SECRET})
    # A principal kept in the catalog database, added through the CLI before the server starts.
    env = {**os.environ, **settings.to_env()}
    added = subprocess.run(
        [sys.executable, "-m", "commonlake", "catalog", "add-principal", "dbuser", "--role", "commonlake=writer"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    credential = added.stdout.split("credential (shown once): ")[1].split()[0]
    settings = settings.with_updates(catalog={"auth": {**auth, "principals": principals()}})
    running = start_catalog(settings)
    running.db_credential = credential  # type: ignore[attr-defined]
    try:
        yield running
    finally:
        running.server.stop()
        for db in databases:
            db.drop()


def token_for(uri: str, client_id: str, secret: str) -> str:
    response = httpx.post(
        uri + TOKENS, data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_token_endpoint_form_basic_refresh_and_errors(secured: RunningCatalog) -> None:
    uri = secured.uri
    form = {"grant_type": "client_credentials", "client_id": "etl", "client_secret": "etl-secret", "scope": "catalog"}
    issued = httpx.post(uri + TOKENS, data=form).json()
    assert issued["token_type"] == "bearer" and issued["expires_in"] == 3600
    assert issued["issued_token_type"] == "urn:ietf:params:oauth:token-type:access_token"

    # DuckDB's way: HTTP Basic with scope PRINCIPAL_ROLE:ALL.
    basic = "Basic " + base64.b64encode(b"analyst:analyst-secret").decode()
    response = httpx.post(
        uri + TOKENS,
        data={"grant_type": "client_credentials", "scope": "PRINCIPAL_ROLE:ALL"},
        headers={"Authorization": basic},
    )
    assert response.status_code == 200
    claims = jwt.decode(response.json()["access_token"], SIGNING_KEY, algorithms=["HS256"], issuer="commonlake-catalog")
    assert claims["sub"] == "analyst" and claims["roles"] == {"commonlake": "reader"} and claims["exp"] > time.time()

    # Refresh by token exchange: a new token for the same principal.
    exchange = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": issued["access_token"],
        "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
    }
    refreshed = httpx.post(uri + TOKENS, data=exchange, headers=bearer(issued["access_token"])).json()
    assert refreshed["access_token"] != issued["access_token"]
    assert httpx.get(uri + "/v1/commonlake/namespaces", headers=bearer(refreshed["access_token"])).status_code == 200

    wrong = httpx.post(uri + TOKENS, data={**form, "client_secret": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    unknown = httpx.post(uri + TOKENS, data={**form, "client_id": "mallory"})
    assert unknown.status_code == 401 and unknown.json() == wrong.json()  # no hint whether the id exists
    grant = httpx.post(uri + TOKENS, data={**form, "grant_type": "password"})
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    missing = httpx.post(uri + TOKENS, data={"grant_type": "client_credentials"})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"

    # The principal stored in the database (hashed secret) gets tokens too.
    client_id, secret = secured.db_credential.split(":", 1)  # type: ignore[attr-defined]
    assert httpx.get(uri + "/v1/commonlake/namespaces", headers=bearer(token_for(uri, client_id, secret))).is_success


def expect_error(response: httpx.Response, code: int, error_type: str) -> None:
    assert response.status_code == code, response.text
    assert response.json()["error"]["type"] == error_type and response.json()["error"]["code"] == code


def test_missing_bad_and_expired_tokens_get_401(secured: RunningCatalog) -> None:
    uri = secured.uri
    expect_error(httpx.get(uri + "/v1/commonlake/namespaces"), 401, "NotAuthorizedException")
    expect_error(httpx.get(uri + "/v1/config"), 401, "NotAuthorizedException")
    expect_error(
        httpx.get(uri + "/v1/commonlake/namespaces", headers=bearer("not-a-jwt")), 401, "NotAuthorizedException"
    )
    forged = jwt.encode({"iss": "commonlake-catalog", "sub": "etl", "roles": {"*": "writer"}, "exp": 2**31}, "x" * 40)
    expect_error(httpx.get(uri + "/v1/commonlake/namespaces", headers=bearer(forged)), 401, "NotAuthorizedException")
    expired = jwt.encode(
        {"iss": "commonlake-catalog", "sub": "etl", "roles": {"*": "writer"}, "exp": int(time.time()) - 5},
        SIGNING_KEY,
    )
    response = httpx.get(uri + "/v1/commonlake/namespaces", headers=bearer(expired))
    expect_error(response, 401, "NotAuthorizedException")
    assert "expired" in response.json()["error"]["message"] and expired not in response.text
    basic = {"Authorization": "Basic " + base64.b64encode(b"etl:etl-secret").decode()}
    expect_error(httpx.get(uri + "/v1/commonlake/namespaces", headers=basic), 401, "NotAuthorizedException")
    assert httpx.get(uri + "/health").status_code == 200  # health needs no token


def test_roles_per_warehouse_reader_gets_403_on_writes(secured: RunningCatalog) -> None:
    uri = secured.uri
    writer = bearer(token_for(uri, "etl", "etl-secret"))
    reader = bearer(token_for(uri, "analyst", "analyst-secret"))
    assert httpx.post(uri + "/v1/commonlake/namespaces", json={"namespace": ["roles"]}, headers=writer).is_success
    assert httpx.get(uri + "/v1/commonlake/namespaces/roles", headers=reader).is_success
    expect_error(
        httpx.post(uri + "/v1/commonlake/namespaces", json={"namespace": ["r2"]}, headers=reader),
        403,
        "ForbiddenException",
    )
    expect_error(httpx.delete(uri + "/v1/commonlake/namespaces/roles", headers=reader), 403, "ForbiddenException")
    # Per warehouse: etl only reads "other", analyst has no role there at all.
    assert httpx.get(uri + "/v1/other/namespaces", headers=writer).is_success
    expect_error(
        httpx.post(uri + "/v1/other/namespaces", json={"namespace": ["x"]}, headers=writer), 403, "ForbiddenException"
    )
    expect_error(httpx.get(uri + "/v1/other/namespaces", headers=reader), 403, "ForbiddenException")
    expect_error(httpx.get(uri + "/v1/config?warehouse=other", headers=reader), 403, "ForbiddenException")
    assert httpx.get(uri + "/v1/commonlake/namespaces/roles", headers=writer).json()["namespace"] == ["roles"]
    # A warehouse named by its location carries the roles of its name.
    by_location = httpx.get(
        uri + "/v1/config", params={"warehouse": secured.settings.warehouse_location}, headers=reader
    )
    assert by_location.status_code == 200 and by_location.json()["overrides"]["prefix"] == "commonlake"


def test_pyiceberg_with_credentials_writer_and_reader(secured: RunningCatalog) -> None:
    props = secured.settings.rest_catalog_properties()
    writer = load_catalog("writer", **props)
    writer.create_namespace("py")
    table = writer.create_table("py.t", schema=pa.schema([("id", pa.int64())]))
    table.append(pa.table({"id": [1, 2]}))

    reader = load_catalog("reader", **{**props, "credential": "analyst:analyst-secret"})
    readable = reader.load_table("py.t")
    assert readable.scan().to_arrow().num_rows == 2
    with pytest.raises(ForbiddenError):
        readable.append(pa.table({"id": [3]}))
    with pytest.raises(ForbiddenError):
        reader.create_namespace("nope")
    with pytest.raises(OAuthError):
        load_catalog("bad", **{**props, "credential": "analyst:wrong"})
    assert writer.load_table("py.t").scan().to_arrow().num_rows == 2


def test_secrets_only_for_authenticated_callers_and_never_logged(secured: RunningCatalog) -> None:
    uri = secured.uri
    writer = bearer(token_for(uri, "etl", "etl-secret"))
    httpx.post(uri + "/v1/commonlake/namespaces", json={"namespace": ["creds"]}, headers=writer)
    schema = {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "x", "required": False, "type": "long"}]}
    httpx.post(uri + "/v1/commonlake/namespaces/creds/tables", json={"name": "t", "schema": schema}, headers=writer)
    loaded = httpx.get(uri + "/v1/commonlake/namespaces/creds/tables/t", headers=writer).json()
    assert loaded["config"]["s3.secret-access-key"] == S3_SECRET
    vended = httpx.get(uri + "/v1/commonlake/namespaces/creds/tables/t/credentials", headers=writer).json()
    assert vended["storage-credentials"][0]["config"]["s3.secret-access-key"] == S3_SECRET
    config = httpx.get(uri + "/v1/config", headers=writer)
    assert S3_SECRET not in config.text and "etl-secret" not in config.text
    log = (secured.settings.resolved_data_dir / "logs" / "catalog.log").read_text()
    assert S3_SECRET not in log and "etl-secret" not in log and writer["Authorization"][7:] not in log


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCatalog]:
    """Auth on with anonymous reads: the public attaches without credentials."""
    auth = {"enabled": True, "principals": principals(), "anonymous_read": True}
    settings = catalog_settings(tmp_path_factory.mktemp("public"), None, auth=auth, credential="etl:etl-secret")
    settings = settings.with_updates(storage={"s3_access_key_id": "AKIDEXAMPLE", "s3_secret_access_key": S3_SECRET})
    running = start_catalog(settings)
    try:
        yield running
    finally:
        running.server.stop()


def test_anonymous_reads_but_never_writes_nor_sees_secrets(public: RunningCatalog) -> None:
    writer = public.catalog  # settings carry the writer's credential
    writer.create_namespace("open")
    writer.create_table("open.t", schema=pa.schema([("id", pa.int64())])).append(pa.table({"id": [5]}))

    anonymous = load_catalog("anon", uri=public.uri, warehouse="commonlake")
    assert anonymous.load_table("open.t").scan().to_arrow()["id"].to_pylist() == [5]
    assert anonymous.list_tables("open") == [("open", "t")]
    expect_error(
        httpx.post(public.uri + "/v1/commonlake/namespaces", json={"namespace": ["x"]}), 401, "NotAuthorizedException"
    )
    with pytest.raises(Exception, match=r"NotAuthorizedException|401|Unauthorized"):
        anonymous.create_namespace("x")

    loaded = httpx.get(public.uri + "/v1/commonlake/namespaces/open/tables/t")
    assert loaded.status_code == 200 and S3_SECRET not in loaded.text and "AKIDEXAMPLE" not in loaded.text
    creds = httpx.get(public.uri + "/v1/commonlake/namespaces/open/tables/t/credentials").json()
    assert creds == {"storage-credentials": []}
    assert S3_SECRET not in httpx.get(public.uri + "/v1/config").text
    # A bad token is still refused, even where anonymous reads are allowed.
    expect_error(
        httpx.get(public.uri + "/v1/commonlake/namespaces", headers=bearer("junk")), 401, "NotAuthorizedException"
    )
