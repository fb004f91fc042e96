"""Idempotency-Key: a retried mutation replays its first final result, on any replica of the catalog."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from commonlake.servers import free_port
from tests.catalog.conftest import BACKENDS, ScratchDatabase, catalog_settings
from tests.conftest import start_catalog

P = "/v1/commonlake"
SCHEMA = {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "id", "required": False, "type": "long"}]}


@pytest.fixture(scope="module", params=BACKENDS)
def replicas(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[httpx.Client]]:
    """Two catalog servers (replicas) on one database and one warehouse."""
    databases = [ScratchDatabase.create()] if request.param == "postgres" else []
    data_dir = tmp_path_factory.mktemp("replicas")
    settings = catalog_settings(data_dir, databases[0].url if databases else None)
    first = start_catalog(settings)
    second = start_catalog(settings.with_updates(catalog={"port": free_port()}))
    assert first.uri != second.uri
    try:
        yield [httpx.Client(base_url=first.uri), httpx.Client(base_url=second.uri)]
    finally:
        first.server.stop()
        second.server.stop()
        for db in databases:
            db.drop()


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def test_retried_create_and_drop_replay_on_another_replica(replicas: list[httpx.Client]) -> None:
    a, b = replicas
    k = key()
    first = a.post(f"{P}/namespaces", json={"namespace": ["idem"]}, headers=k)
    retry = b.post(f"{P}/namespaces", json={"namespace": ["idem"]}, headers=k)
    assert first.status_code == retry.status_code == 200 and first.json() == retry.json()
    assert retry.headers.get("idempotent-replayed") == "true"
    # Without the key the same request is a new one: 409.
    assert b.post(f"{P}/namespaces", json={"namespace": ["idem"]}).status_code == 409

    k2 = key()
    assert a.post(f"{P}/namespaces", json={"namespace": ["gone"]}).is_success
    assert a.delete(f"{P}/namespaces/gone", headers=k2).status_code == 204
    assert b.delete(f"{P}/namespaces/gone", headers=k2).status_code == 204  # replayed, not 404
    assert b.delete(f"{P}/namespaces/gone").status_code == 404


def test_retried_commit_applies_once(replicas: list[httpx.Client]) -> None:
    a, b = replicas
    a.post(f"{P}/namespaces", json={"namespace": ["once"]})
    a.post(f"{P}/namespaces/once/tables", json={"name": "t", "schema": SCHEMA})
    commit = {"requirements": [], "updates": [{"action": "set-properties", "updates": {"n": "1"}}]}
    k = key()
    first = a.post(f"{P}/namespaces/once/tables/t", json=commit, headers=k)
    retry = b.post(f"{P}/namespaces/once/tables/t", json=commit, headers=k)
    assert first.status_code == retry.status_code == 200
    assert first.json()["metadata-location"] == retry.json()["metadata-location"]
    current = b.get(f"{P}/namespaces/once/tables/t").json()
    assert current["metadata-location"] == first.json()["metadata-location"]
    assert len(current["metadata"]["metadata-log"]) == 1  # one commit happened, not two

    # A deterministic 4xx is final too and replays as such.
    k409 = key()
    stale = {"requirements": [{"type": "assert-current-schema-id", "current-schema-id": 9}], "updates": []}
    assert a.post(f"{P}/namespaces/once/tables/t", json=stale, headers=k409).status_code == 409
    assert b.post(f"{P}/namespaces/once/tables/t", json=stale, headers=k409).status_code == 409


def test_key_reused_for_another_request_is_refused(replicas: list[httpx.Client]) -> None:
    a, b = replicas
    k = key()
    assert a.post(f"{P}/namespaces", json={"namespace": ["k1"]}, headers=k).is_success
    other = b.post(f"{P}/namespaces", json={"namespace": ["k2"]}, headers=k)
    assert other.status_code == 422 and other.json()["error"]["type"] == "UnprocessableEntityException"
    assert b.head(f"{P}/namespaces/k2").status_code == 404
    bad = a.post(f"{P}/namespaces", json={"namespace": ["k3"]}, headers={"Idempotency-Key": "x" * 100})
    assert bad.status_code == 400
