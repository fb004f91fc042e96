"""The REST contract seen on the wire: config, ETags, snapshot modes, HEAD, metrics, credentials, staging."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
import pyarrow as pa

from tests.conftest import RunningCatalog

P = "/v1/commonlake"
SCHEMA = {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "id", "required": False, "type": "long"}]}


def test_config_has_defaults_overrides_endpoints_and_idempotency(http: httpx.Client) -> None:
    config = http.get("/v1/config", params={"warehouse": "commonlake"}).json()
    assert config["defaults"] == {} and config["overrides"]["prefix"] == "commonlake"
    for endpoint in (
        "POST /v1/{prefix}/transactions/commit",
        "POST /v1/{prefix}/namespaces/{namespace}/views",
        "POST /v1/{prefix}/views/rename",
        "GET /v1/{prefix}/namespaces/{namespace}/tables/{table}/credentials",
    ):
        assert endpoint in config["endpoints"]
    assert config["idempotency-key-lifetime"] == "PT30M"
    # Every advertised endpoint is routed (no 404/405 from the router itself).
    for endpoint in config["endpoints"]:
        method, path = endpoint.split(" ", 1)
        concrete = (
            path.replace("{prefix}", "commonlake")
            .replace("{namespace}", "nowhere")
            .replace("{table}", "t")
            .replace("{view}", "v")
        )
        response = http.request(method, concrete, json={} if method == "POST" else None)
        error_type = response.json().get("error", {}).get("type") if response.content else None
        assert error_type not in ("NotFoundException", "MethodNotAllowedException"), (endpoint, response.text)


def test_etag_304_and_snapshots_modes(backend_catalog: RunningCatalog, http: httpx.Client) -> None:
    cat = backend_catalog.catalog
    cat.create_namespace("wire")
    table = cat.create_table("wire.t", schema=pa.schema([("id", pa.int64())]))
    table.append(pa.table({"id": [1]}))
    table.append(pa.table({"id": [2]}))
    table.manage_snapshots().create_tag(table.metadata.snapshots[0].snapshot_id, "v1").commit()
    table = cat.load_table("wire.t")
    table.append(pa.table({"id": [3]}))  # three snapshots; main -> third, tag v1 -> first

    full = http.get(f"{P}/namespaces/wire/tables/t")
    refs = http.get(f"{P}/namespaces/wire/tables/t", params={"snapshots": "refs"})
    all_ids = {s["snapshot-id"] for s in full.json()["metadata"]["snapshots"]}
    ref_ids = {s["snapshot-id"] for s in refs.json()["metadata"]["snapshots"]}
    referenced = {r["snapshot-id"] for r in full.json()["metadata"]["refs"].values()}
    assert len(all_ids) == 3 and ref_ids == referenced and len(ref_ids) == 2
    assert full.headers["etag"] != refs.headers["etag"]

    again = http.get(f"{P}/namespaces/wire/tables/t", headers={"If-None-Match": full.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    cat.load_table("wire.t").append(pa.table({"id": [4]}))
    changed = http.get(f"{P}/namespaces/wire/tables/t", headers={"If-None-Match": full.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != full.headers["etag"]

    assert http.head(f"{P}/namespaces/wire/tables/t").status_code == 204
    assert http.head(f"{P}/namespaces/wire").status_code == 204
    report = {"report-type": "scan-report", "table-name": "wire.t", "snapshot-id": 1, "metrics": {}}
    assert http.post(f"{P}/namespaces/wire/tables/t/metrics", json=report).status_code == 204
    assert http.post(f"{P}/namespaces/wire/tables/t/metrics", json={"x": 1}).status_code == 400
    assert http.get(f"{P}/namespaces/wire/tables/t/credentials").json() == {"storage-credentials": []}


def test_stage_create_registers_nothing_until_assert_create(http: httpx.Client) -> None:
    http.post(f"{P}/namespaces", json={"namespace": ["stage"]})
    staged = http.post(f"{P}/namespaces/stage/tables", json={"name": "s", "schema": SCHEMA, "stage-create": True})
    assert staged.status_code == 200 and staged.json()["metadata-location"] is None
    location = staged.json()["metadata"]["location"]
    assert Path(unquote(urlparse(location).path), "metadata").is_dir()  # DuckDB writes there before committing
    assert http.head(f"{P}/namespaces/stage/tables/s").status_code == 404
    metadata = staged.json()["metadata"]
    commit = {
        "requirements": [{"type": "assert-create"}],
        "updates": [
            {"action": "assign-uuid", "uuid": metadata["table-uuid"]},
            {"action": "upgrade-format-version", "format-version": 2},
            {"action": "add-schema", "schema": SCHEMA},
            {"action": "set-current-schema", "schema-id": -1},
            {"action": "add-spec", "spec": {"spec-id": 0, "fields": []}},
            {"action": "set-default-spec", "spec-id": -1},
            {"action": "add-sort-order", "sort-order": {"order-id": 0, "fields": []}},
            {"action": "set-default-sort-order", "sort-order-id": -1},
            {"action": "set-location", "location": location},
            {"action": "set-properties", "updates": {"created-by": "test"}},
        ],
    }
    created = http.post(f"{P}/namespaces/stage/tables/s", json=commit)
    assert created.status_code == 200, created.text
    assert created.json()["metadata"]["table-uuid"] == metadata["table-uuid"]
    assert http.head(f"{P}/namespaces/stage/tables/s").status_code == 204
    again = http.post(f"{P}/namespaces/stage/tables/s", json=commit)
    assert again.status_code == 409  # assert-create: it exists now


def test_multipart_namespaces_and_encoded_names(http: httpx.Client) -> None:
    assert http.post(f"{P}/namespaces", json={"namespace": ["multi"]}).is_success
    assert http.post(f"{P}/namespaces", json={"namespace": ["multi", "level two"]}).is_success
    loaded = http.get(f"{P}/namespaces/multi%1Flevel%20two").json()
    assert loaded["namespace"] == ["multi", "level two"]
    created = http.post(f"{P}/namespaces/multi%1Flevel%20two/tables", json={"name": "ü t", "schema": SCHEMA})
    assert created.status_code == 200, created.text
    assert http.head(f"{P}/namespaces/multi%1Flevel%20two/tables/%C3%BC%20t").status_code == 204
    listed = http.get(f"{P}/namespaces", params={"parent": "multi"}).json()["namespaces"]
    assert listed == [["multi", "level two"]]
