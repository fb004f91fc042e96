"""Bad input gets the right status and ErrorModel type, and changes nothing that exists."""

from __future__ import annotations

import json
import uuid

import httpx
import pyarrow as pa
import pytest

from tests.conftest import RunningCatalog

P = "/v1/commonlake"
SCHEMA = {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "id", "required": False, "type": "long"}]}


@pytest.fixture(scope="module")
def witness(backend_catalog: RunningCatalog) -> dict:
    """A table with data whose metadata must be exactly the same after every bad request."""
    cat = backend_catalog.catalog
    cat.create_namespace("bad")
    table = cat.create_table("bad.witness", schema=pa.schema([("id", pa.int64())]))
    table.append(pa.table({"id": [1, 2, 3]}))
    table.update_spec().add_identity("id").commit()
    with httpx.Client(base_url=backend_catalog.uri) as client:
        return client.get(f"{P}/namespaces/bad/tables/witness").json()


def check(response: httpx.Response, code: int, error_type: str) -> dict:
    assert response.status_code == code, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "code"} and error["type"] == error_type and error["code"] == code
    return error


def unchanged(http: httpx.Client, witness: dict) -> None:
    now = http.get(f"{P}/namespaces/bad/tables/witness").json()
    assert now["metadata-location"] == witness["metadata-location"]
    assert now["metadata"] == witness["metadata"]


def test_malformed_bodies_and_wrong_types(http: httpx.Client, witness: dict) -> None:
    headers = {"content-type": "application/json"}
    check(http.post(f"{P}/namespaces", content=b"{not json", headers=headers), 400, "BadRequestException")
    check(http.post(f"{P}/namespaces", json={"namespace": "bad"}), 400, "BadRequestException")
    check(http.post(f"{P}/namespaces", json={"namespace": ["x"], "properties": {"a": [1]}}), 400, "BadRequestException")
    check(http.post(f"{P}/namespaces/bad/tables", json={"name": "t"}), 400, "BadRequestException")
    check(http.post(f"{P}/namespaces/bad/tables/witness", content=b"[]", headers=headers), 400, "BadRequestException")
    wrong = {"requirements": [], "updates": [{"action": "set-properties", "updates": "nope"}]}
    check(http.post(f"{P}/namespaces/bad/tables/witness", json=wrong), 400, "BadRequestException")
    check(http.get(f"{P}/namespaces", params={"pageSize": 0}), 400, "BadRequestException")
    check(http.get(f"{P}/namespaces/bad/tables/witness", params={"snapshots": "some"}), 400, "BadRequestException")
    unchanged(http, witness)


def test_commit_bodies_that_are_not_plain_json_get_the_routes_answers(http: httpx.Client, witness: dict) -> None:
    """Commits skip FastAPI's routing when they can (catalog.commit_table_path); these are answered by the route."""
    path, as_json = f"{P}/namespaces/bad/tables/witness", {"content-type": "application/json"}
    check(http.post(path, content=b"{not json", headers=as_json), 400, "BadRequestException")
    check(http.post(path, content=b"", headers=as_json), 400, "BadRequestException")
    noop = json.dumps({"requirements": [], "updates": []}).encode()
    check(http.post(path, content=noop, headers={"content-type": "text/plain"}), 400, "BadRequestException")
    mismatch = {"identifier": {"namespace": ["bad"], "name": "other"}, "requirements": [], "updates": []}
    error = check(http.post(path, json=mismatch), 400, "BadRequestException")
    assert "does not match the path" in error["message"]
    unchanged(http, witness)

    answer = http.post(path, json={"requirements": [], "updates": []})  # changes nothing: the current metadata
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert set(answer.json()) == {"metadata-location", "metadata"}
    assert answer.json()["metadata-location"] == witness["metadata-location"]


def test_unknown_actions_and_requirements(http: httpx.Client, witness: dict) -> None:
    path = f"{P}/namespaces/bad/tables/witness"
    unknown_update = {"requirements": [], "updates": [{"action": "drop-everything"}]}
    check(http.post(path, json=unknown_update), 400, "BadRequestException")
    unknown_requirement = {"requirements": [{"type": "assert-nothing"}], "updates": []}
    check(http.post(path, json=unknown_requirement), 400, "BadRequestException")
    view_update_on_table = {"requirements": [], "updates": [{"action": "add-view-version", "view-version": {}}]}
    check(http.post(path, json=view_update_on_table), 400, "BadRequestException")
    snapshot_of_nothing = {"requirements": [], "updates": [{"action": "set-snapshot-ref", "ref-name": "main",
                                                            "type": "branch", "snapshot-id": 12345}]}  # fmt: skip
    check(http.post(path, json=snapshot_of_nothing), 400, "BadRequestException")
    unchanged(http, witness)


@pytest.mark.parametrize(
    "raw_name",
    ["a%2Fb", "..", "%2E%2E", "a%00b", "a%01b", "a%0Ab", "%20lead", "a%5Cb", ".hidden"],
)
def test_bad_names_in_paths_and_bodies(http: httpx.Client, witness: dict, raw_name: str) -> None:
    # In a path: a %2F is part of the name (never a separator), and the name is refused.
    # (A bare ".." never reaches a server: HTTP clients resolve it; its encoded form does.)
    if raw_name != "..":
        check(http.get(f"{P}/namespaces/bad/tables/{raw_name}"), 400, "BadRequestException")
        check(http.get(f"{P}/namespaces/{raw_name}"), 400, "BadRequestException")
        check(http.delete(f"{P}/namespaces/bad/tables/{raw_name}"), 400, "BadRequestException")
    # In a body.
    name = httpx.QueryParams(f"n={raw_name}")["n"]
    check(http.post(f"{P}/namespaces", json={"namespace": ["bad", name]}), 400, "BadRequestException")
    check(http.post(f"{P}/namespaces/bad/tables", json={"name": name, "schema": SCHEMA}), 400, "BadRequestException")
    rename = {"source": {"namespace": ["bad"], "name": "witness"}, "destination": {"namespace": ["bad"], "name": name}}
    check(http.post(f"{P}/tables/rename", json=rename), 400, "BadRequestException")
    unchanged(http, witness)


def test_empty_names_and_unknown_warehouse(http: httpx.Client, witness: dict) -> None:
    check(http.post(f"{P}/namespaces", json={"namespace": []}), 400, "BadRequestException")
    check(http.post(f"{P}/namespaces", json={"namespace": ["bad", ""]}), 400, "BadRequestException")
    check(http.post(f"{P}/namespaces/bad/tables", json={"name": "", "schema": SCHEMA}), 400, "BadRequestException")
    check(http.get("/v1/nowhere/namespaces"), 404, "NoSuchWarehouseException")
    check(http.get("/v1/config", params={"warehouse": "nowhere"}), 404, "NoSuchWarehouseException")
    unchanged(http, witness)


def test_locations_cannot_escape_the_warehouse(http: httpx.Client, witness: dict, tmp_path) -> None:
    root = witness["metadata"]["location"].rsplit("/", 2)[0]
    for location in ("file:///etc/commonlake", f"{root}/../escape", "s3://someone-else/bucket", f"{root}/a/../../x"):
        body = {"name": f"t{uuid.uuid4().hex[:6]}", "schema": SCHEMA, "location": location}
        response = http.post(f"{P}/namespaces/bad/tables", json=body)
        assert response.status_code in (400, 403), response.text
    move = {"requirements": [], "updates": [{"action": "set-location", "location": "file:///tmp/elsewhere"}]}
    check(http.post(f"{P}/namespaces/bad/tables/witness", json=move), 403, "ForbiddenException")
    outside = tmp_path / "v1.metadata.json"
    outside.write_text(json.dumps(witness["metadata"]))
    register = {"name": "stolen", "metadata-location": outside.as_uri()}
    check(http.post(f"{P}/namespaces/bad/register", json=register), 403, "ForbiddenException")
    unchanged(http, witness)


def test_oversized_body_is_413(http: httpx.Client, witness: dict) -> None:
    huge = {"requirements": [], "updates": [{"action": "set-properties", "updates": {"x": "y" * (17 * 1024 * 1024)}}]}
    check(http.post(f"{P}/namespaces/bad/tables/witness", json=huge), 413, "BadRequestException")
    # Chunked (no content-length): cut off while streaming.
    chunks = (b"x" * (1024 * 1024) for _ in range(20))
    response = http.post(
        f"{P}/namespaces/bad/tables/witness", content=chunks, headers={"content-type": "application/json"}
    )
    check(response, 413, "BadRequestException")
    unchanged(http, witness)


def test_every_requirement_type_checks_and_stale_ones_are_409(http: httpx.Client, witness: dict) -> None:
    m = witness["metadata"]
    good = [
        {"type": "assert-table-uuid", "uuid": m["table-uuid"]},
        {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": m["current-snapshot-id"]},
        {"type": "assert-last-assigned-field-id", "last-assigned-field-id": m["last-column-id"]},
        {"type": "assert-current-schema-id", "current-schema-id": m["current-schema-id"]},
        {"type": "assert-last-assigned-partition-id", "last-assigned-partition-id": m["last-partition-id"]},
        {"type": "assert-default-spec-id", "default-spec-id": m["default-spec-id"]},
        {"type": "assert-default-sort-order-id", "default-sort-order-id": m["default-sort-order-id"]},
    ]
    stale = [
        {"type": "assert-table-uuid", "uuid": str(uuid.uuid4())},
        {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": 1},
        {"type": "assert-ref-snapshot-id", "ref": "main", "snapshot-id": None},
        {"type": "assert-last-assigned-field-id", "last-assigned-field-id": m["last-column-id"] + 5},
        {"type": "assert-current-schema-id", "current-schema-id": 42},
        {"type": "assert-last-assigned-partition-id", "last-assigned-partition-id": 999},
        {"type": "assert-default-spec-id", "default-spec-id": 0},
        {"type": "assert-default-sort-order-id", "default-sort-order-id": 7},
        {"type": "assert-create"},
    ]
    path = f"{P}/namespaces/bad/tables/witness"
    noop_change = [{"action": "set-properties", "updates": {"probe": "1"}}]
    for requirement in stale:
        error = check(http.post(path, json={"requirements": [*good, requirement], "updates": noop_change}), 409,
                      "CommitFailedException")  # fmt: skip
        assert error["message"]
    unchanged(http, witness)
    # All seven non-create requirements hold at once: the commit goes through.
    ok = http.post(path, json={"requirements": good, "updates": noop_change})
    assert ok.status_code == 200, ok.text
    assert ok.json()["metadata"]["properties"]["probe"] == "1"
    witness.update(http.get(path).json())  # later tests compare against the new state


def test_missing_objects_and_non_empty_namespace(http: httpx.Client) -> None:
    commit = {"requirements": [], "updates": [{"action": "set-properties", "updates": {"a": "b"}}]}
    check(http.post(f"{P}/namespaces/bad/tables/ghost", json=commit), 404, "NoSuchTableException")
    check(http.post(f"{P}/namespaces/ghost_ns/tables/ghost", json=commit), 404, "NoSuchNamespaceException")
    check(http.delete(f"{P}/namespaces/bad/tables/ghost"), 404, "NoSuchTableException")
    check(http.delete(f"{P}/namespaces/ghost_ns"), 404, "NoSuchNamespaceException")
    check(http.get(f"{P}/namespaces/bad/views/ghost"), 404, "NoSuchViewException")
    assert http.head(f"{P}/namespaces/bad/tables/ghost").status_code == 404
    assert http.head(f"{P}/namespaces/ghost_ns").status_code == 404
    check(http.delete(f"{P}/namespaces/bad"), 409, "NamespaceNotEmptyException")
    both = {"removals": ["k"], "updates": {"k": "v"}}
    check(http.post(f"{P}/namespaces/bad/properties", json=both), 422, "UnprocessableEntityException")
    check(http.post(f"{P}/namespaces", json={"namespace": ["bad"]}), 409, "AlreadyExistsException")


def test_failed_transaction_changes_no_table(http: httpx.Client, witness: dict) -> None:
    http.post(f"{P}/namespaces/bad/tables", json={"name": "partner", "schema": SCHEMA})
    partner_before = http.get(f"{P}/namespaces/bad/tables/partner").json()["metadata-location"]
    changes = [
        {
            "identifier": {"namespace": ["bad"], "name": "partner"},
            "requirements": [],
            "updates": [{"action": "set-properties", "updates": {"half": "done"}}],
        },
        {
            "identifier": {"namespace": ["bad"], "name": "witness"},
            "requirements": [{"type": "assert-current-schema-id", "current-schema-id": 99}],
            "updates": [{"action": "set-properties", "updates": {"half": "done"}}],
        },
    ]
    check(http.post(f"{P}/transactions/commit", json={"table-changes": changes}), 409, "CommitFailedException")
    assert http.get(f"{P}/namespaces/bad/tables/partner").json()["metadata-location"] == partner_before
    twice = [changes[0], changes[0]]
    check(http.post(f"{P}/transactions/commit", json={"table-changes": twice}), 400, "BadRequestException")
    missing = [{**changes[0], "identifier": {"namespace": ["bad"], "name": "ghost"}}]
    check(http.post(f"{P}/transactions/commit", json={"table-changes": missing}), 404, "NoSuchTableException")
    unchanged(http, witness)
