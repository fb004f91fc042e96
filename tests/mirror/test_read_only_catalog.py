"""The catalog side of mirrors: read-only tables refuse commits (403), purges never leave the warehouse."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from pyiceberg.exceptions import ForbiddenError
from pyiceberg.io import load_file_io
from pyiceberg.serializers import ToOutputFile

from catalog.tables import READ_ONLY_PROPERTY
from mirror import properties as p
from tests.mirror.conftest import Node, events_batch, make_events_table, table_files, unique


def test_the_mirror_and_the_catalog_agree_on_the_read_only_property() -> None:
    assert p.READ_ONLY == READ_ONLY_PROPERTY


def test_a_read_only_table_refuses_every_commit_but_can_be_re_registered_and_dropped(source: Node) -> None:
    ns = unique("ro")
    table = make_events_table(source.catalog, ns, days=1)
    with table.transaction() as tx:  # the last commit a writer may make
        tx.set_properties({READ_ONLY_PROPERTY: "true"})
    table = source.catalog.load_table((ns, "events"))
    location = table.metadata_location

    with pytest.raises(ForbiddenError, match="read-only"):
        table.append(events_batch(3, 5))
    with pytest.raises(ForbiddenError, match="read-only"), table.update_schema() as update:
        update.delete_column("amount")
    prefix = f"{source.uri}/v1/{source.settings.catalog.warehouse}"
    single = httpx.post(
        f"{prefix}/namespaces/{ns}/tables/events",
        json={"requirements": [], "updates": [{"action": "remove-properties", "removals": [READ_ONLY_PROPERTY]}]},
    )
    assert single.status_code == 403 and single.json()["error"]["type"] == "ForbiddenException"
    multi = httpx.post(
        f"{prefix}/transactions/commit",
        json={
            "table-changes": [
                {
                    "identifier": {"namespace": [ns], "name": "events"},
                    "requirements": [],
                    "updates": [{"action": "set-properties", "updates": {"owner": "me"}}],
                }
            ]
        },
    )
    assert multi.status_code == 403 and "read-only" in multi.json()["error"]["message"]
    assert source.catalog.load_table((ns, "events")).metadata_location == location

    # What a mirror refresh does: register a new metadata file over it.
    registered = source.catalog.register_table((ns, "events"), location, overwrite=True)
    assert registered.metadata_location == location
    source.catalog.drop_table((ns, "events"))
    assert not source.catalog.table_exists((ns, "events"))


def test_purging_a_table_that_names_another_warehouses_files_deletes_none_of_them(source: Node, replica: Node) -> None:
    ns = unique("shared")
    theirs = make_events_table(source.catalog, ns, days=2)
    their_dir = Path(theirs.location().removeprefix("file://"))
    their_files = table_files(their_dir)

    # A table of the replica whose metadata (in the replica's warehouse) names the source's files.
    replica.catalog.create_namespace(ns)
    directory = f"{replica.settings.warehouse_location}/{ns}/borrowed-{uuid.uuid4().hex[:8]}/metadata"
    location = f"{directory}/00000-{uuid.uuid4()}.metadata.json"
    fileio = load_file_io({}, location)
    ToOutputFile.table_metadata(theirs.metadata, fileio.new_output(location))
    borrowed = replica.catalog.register_table((ns, "borrowed"), location)
    assert borrowed.scan().to_arrow().num_rows == 100

    replica.catalog.purge_table((ns, "borrowed"))
    assert table_files(their_dir) == their_files, "not one of the other warehouse's files was deleted"
    assert not Path(location.removeprefix("file://")).exists(), "its own metadata file was purged"
    assert source.catalog.load_table((ns, "events")).scan().to_arrow().num_rows == 100
