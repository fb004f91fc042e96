"""Where each remote file goes in the local warehouse."""

from __future__ import annotations

import hashlib
import posixpath
from dataclasses import dataclass


def normalize(uri: str) -> str:
    """One spelling per location: ``file:/x`` (Java) and ``file:///x`` (PyIceberg) are the same file."""
    uri = uri.rstrip("/")
    if uri.startswith("file:/") and not uri.startswith("file:///"):
        return "file:///" + uri[len("file:") :].lstrip("/")
    if uri.startswith("/"):
        return "file://" + uri
    return uri


@dataclass(frozen=True)
class LocationMapper:
    """Maps a remote table's file paths under its location to the same relative paths under the local one.

    Relative paths are kept so a copied table looks exactly like its source (data files keep
    their names; a snapshot's manifest list keeps its ``snap-<id>-…`` name). A file outside
    the remote table's location (another engine's custom data path) gets a stable name
    under ``external/`` derived from its full path.
    """

    source_root: str
    target_root: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "source_root", normalize(self.source_root))
        object.__setattr__(self, "target_root", self.target_root.rstrip("/"))

    def target(self, path: str) -> str:
        """The local path of a remote file."""
        source = normalize(path)
        if source.startswith(self.source_root + "/"):
            return self.target_root + source[len(self.source_root) :]
        digest = hashlib.sha256(source.encode()).hexdigest()[:20]
        return f"{self.target_root}/external/{digest}-{posixpath.basename(source)}"
