"""`commonlake mirror` end to end through the real CLI: a private remote, credentials kept secret, bad input."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog.auth.secrets import hash_secret
from commonlake.servers import free_port
from mirror import MirrorError, add_mirror, get_mirror, list_mirrors, refresh_mirror
from mirror import properties as p
from mirror.credentials import KEY_FILE
from mirror.errors import MirrorConfigError, RemoteAccessError, RemoteUnavailableError
from tests.conftest import start_catalog
from tests.mirror.conftest import Node, events_batch, make_events_table, start_node, unique

WRITER_SECRET = "writer-secret-0123456789"
READER_SECRET = "reader-secret-9876543210-do-not-leak"


@pytest.fixture
def private_node(tmp_path: Path) -> Iterator[Node]:
    """A node whose catalog requires a token for everything (no anonymous reads)."""
    node = start_node(
        tmp_path / "private",
        catalog={
            "credential": f"writer:{WRITER_SECRET}",
            "auth": {
                "enabled": True,
                "anonymous_read": False,
                "principals": {
                    "writer": {"secret_hash": hash_secret(WRITER_SECRET), "roles": {"*": "writer"}},
                    "mirror": {"secret_hash": hash_secret(READER_SECRET), "roles": {"*": "reader"}},
                },
            },
        },
    )
    try:
        yield node
    finally:
        node.stop()


def cli(node: Node, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``commonlake <args>`` for a node, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "commonlake", *args],
        env={**os.environ, **node.settings.to_env(), "COLUMNS": "250", **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_private_remote_is_mirrored_with_its_credential_which_never_shows(private_node: Node, tmp_path: Path) -> None:
    ns = unique("marts")
    table = make_events_table(private_node.catalog, ns, days=2)
    local = start_node(tmp_path / "local")
    try:
        refused = cli(local, "mirror", "add", "priv", "--from", private_node.uri, "--namespaces", ns)
        assert refused.returncode == 1 and "requires authentication" in refused.stdout
        add = ("mirror", "add", "priv", "--from", private_node.uri, "--namespaces", ns)
        wrong = cli(local, *add, "--credential", "mirror:nope")
        assert wrong.returncode == 1 and "refused the credential" in wrong.stdout
        assert (("priv",)) not in local.catalog.list_namespaces(), "a failed add records nothing"

        added = cli(
            local,
            "mirror",
            "add",
            "priv",
            "--from",
            private_node.uri,
            "--namespaces",
            ns,
            env={"COMMONLAKE_MIRROR_CREDENTIAL": f"mirror:{READER_SECRET}"},
        )
        assert added.returncode == 0, added.stdout + added.stderr
        assert f"priv.{ns}.events" in added.stdout and "created" in added.stdout

        listed = cli(local, "mirror", "list")
        assert listed.returncode == 0 and "priv" in listed.stdout and "stored (encrypted)" in listed.stdout
        as_json = json.loads(cli(local, "mirror", "list", "--json").stdout)
        assert as_json[0]["name"] == "priv" and as_json[0]["credential"] == "stored (encrypted)"
        assert as_json[0]["last_refresh"]["ok"] is True

        # The secret is nowhere in plain sight: not in output, properties, the database or any log.
        properties = local.catalog.load_namespace_properties(("priv",))
        assert properties[p.CREDENTIAL] and READER_SECRET not in json.dumps(properties)
        for output in (added, listed):
            assert READER_SECRET not in output.stdout + output.stderr
        data_dirs = (local.settings.resolved_data_dir, private_node.settings.resolved_data_dir)
        for directory in data_dirs:
            for path in directory.rglob("*"):
                if path.is_file() and path.name != KEY_FILE:
                    assert READER_SECRET.encode() not in path.read_bytes(), path
        key_file = local.settings.resolved_data_dir / KEY_FILE
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

        # Both nodes restart: the mirror's configuration and credential are still there.
        local.stop()
        private_node.stop()
        local = Node(start_catalog(local.settings))
        private_node.running = start_catalog(private_node.settings)
        private_node.catalog.load_table((ns, "events")).append(events_batch(5, 7))
        config = get_mirror(local.settings, "priv")
        assert config.credential is not None and config.credential.get_secret_value() == f"mirror:{READER_SECRET}"
        assert repr(config).count(READER_SECRET) == 0
        dry = cli(local, "mirror", "refresh", "priv", "--dry-run")
        assert dry.returncode == 0 and "update" in dry.stdout
        refreshed = cli(local, "mirror", "refresh", "priv")
        assert refreshed.returncode == 0, refreshed.stdout
        assert "updated" in refreshed.stdout and READER_SECRET not in refreshed.stdout
        expected = private_node.catalog.load_table((ns, "events")).scan().to_arrow().num_rows
        assert local.catalog.load_table(("priv", ns, "events")).scan().to_arrow().num_rows == expected == 107

        removed = cli(local, "mirror", "remove", "priv")
        assert removed.returncode == 0 and "1 tables dropped" in removed.stdout
        assert list_mirrors(local.settings) == []
        assert table.name() == (ns, "events")
    finally:
        local.stop()


def test_a_credential_from_settings_is_used_but_not_stored(private_node: Node, replica: Node) -> None:
    ns, name = unique("marts"), unique("env")
    make_events_table(private_node.catalog, ns, days=1)
    settings = replica.settings.with_updates(mirror={"credentials": {name: f"mirror:{READER_SECRET}"}})
    add_mirror(settings, name, private_node.uri, ns, "copy")
    assert p.CREDENTIAL not in replica.catalog.load_namespace_properties((name,))
    assert refresh_mirror(settings, name).ok
    with pytest.raises(RemoteAccessError, match="requires authentication"):
        refresh_mirror(replica.settings, name)  # without the setting: no credential at all


def test_bad_input_gets_a_clear_error_and_records_nothing(source: Node, replica: Node) -> None:
    ns = unique("marts")
    make_events_table(source.catalog, ns, days=1)
    before = set(replica.catalog.list_namespaces())
    with pytest.raises(MirrorConfigError, match="Invalid mirror name"):
        add_mirror(replica.settings, "Bad-Name", source.uri, ns)
    with pytest.raises(MirrorConfigError, match="Unknown mode"):
        add_mirror(replica.settings, "good", source.uri, ns, "teleport")
    with pytest.raises(MirrorConfigError, match="no namespace 'absent'"):
        add_mirror(replica.settings, "good", source.uri, f"{ns},absent")
    with pytest.raises(MirrorConfigError, match="at least one remote namespace"):
        add_mirror(replica.settings, "good", source.uri, " , ")
    with pytest.raises(RemoteUnavailableError, match="unreachable"):
        add_mirror(replica.settings, "good", f"http://127.0.0.1:{free_port()}", ns)
    with pytest.raises(MirrorConfigError, match="http"):
        add_mirror(replica.settings, "good", "ftp://example.org", ns)
    replica.catalog.create_namespace_if_not_exists("taken")
    with pytest.raises(MirrorConfigError, match="already exists"):
        add_mirror(replica.settings, "taken", source.uri, ns)
    with pytest.raises(MirrorConfigError, match="not a mirror"):
        get_mirror(replica.settings, "taken")
    with pytest.raises(MirrorConfigError, match="No mirror named 'nothing'"):
        refresh_mirror(replica.settings, "nothing")
    assert set(replica.catalog.list_namespaces()) == before | {("taken",)}

    name = unique("dup")
    add_mirror(replica.settings, name, source.uri, ns)
    with pytest.raises(MirrorConfigError, match="it is a mirror: remove it first"):
        add_mirror(replica.settings, name, source.uri, ns)
    missing = cli(replica, "mirror", "refresh", "nothing")
    assert missing.returncode == 1 and "No mirror named 'nothing'" in missing.stdout
    assert isinstance(MirrorConfigError("x"), MirrorError)
