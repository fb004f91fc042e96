"""Register mode: a mirrored table is the remote's metadata, pointing at the remote's files (zero copy).

The local metadata file is the remote's current metadata with this node's provenance and
read-only properties (written to the local warehouse, so the catalog's register rules
hold), while its snapshots' manifest lists, manifests and data files stay the remote's.
It only works when this node can read the remote's object store with its own storage
settings (a shared or public bucket), which :func:`check_readable` proves before anything
is registered.
"""

from __future__ import annotations

from pyiceberg.io import FileIO

from mirror.errors import SourceFileError
from mirror.remote import RemoteTable


def check_readable(remote: RemoteTable, local_io: FileIO) -> None:
    """Read the remote's current manifest list and manifests with this node's FileIO, or fail clearly."""
    snapshot = remote.table.current_snapshot()
    if snapshot is None:
        return
    try:
        for manifest in snapshot.manifests(local_io):
            local_io.new_input(manifest.manifest_path).open().close()
    except Exception as exc:  # any I/O failure: no access, missing file, other endpoint
        raise SourceFileError(
            f"Register mode needs the remote's files readable from this node with its storage settings, but "
            f"{snapshot.manifest_list} of {remote.qualified} cannot be read ({type(exc).__name__}: {exc}); "
            "use --mode copy for a remote whose object store is not shared"
        ) from exc
