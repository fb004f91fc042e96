"""Reading and writing metadata files through PyIceberg's FileIO.

Metadata files are immutable once written, so everything read is cached by location:
the parsed :class:`TableMetadata` and the serialized loadTable response bodies. A cache
entry can never be stale, so replicas need no invalidation between them.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, Literal, TypeVar

from pyiceberg.io import FileIO, load_file_io
from pyiceberg.serializers import Compressor, FromInputFile
from pyiceberg.table.metadata import TableMetadata
from pyiceberg.view.metadata import ViewMetadata

from catalog.errors import CatalogError
from catalog.responses import metadata_result

K = TypeVar("K")
V = TypeVar("V")

SnapshotsMode = Literal["all", "refs"]


class LruCache(Generic[K, V]):
    """A small thread-safe LRU map."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._data: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_create(self, key: K, create: Callable[[], V]) -> V:
        """Return the cached value, computing and storing it on a miss."""
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        value = create()
        self.put(key, value)
        return value

    def put(self, key: K, value: V) -> None:
        """Store a value, evicting the least recently used entry past capacity."""
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.capacity:
                self._data.popitem(last=False)


class MetadataUnreadableError(CatalogError):
    """A metadata file that the catalog points at cannot be read or parsed."""

    status_code = 500
    error_type = "ServiceFailureException"


class MetadataFiles:
    """Table and view metadata files of one object store, cached by location."""

    def __init__(self, fileio_properties: dict[str, str], cache_entries: int = 512) -> None:
        self.fileio_properties = dict(fileio_properties)
        self._io_by_scheme: dict[str, FileIO] = {}
        self._io_lock = threading.Lock()
        self._tables: LruCache[str, TableMetadata] = LruCache(cache_entries)
        self._views: LruCache[str, ViewMetadata] = LruCache(cache_entries)
        self._bodies: LruCache[tuple[str, str], bytes] = LruCache(cache_entries * 2)

    def io_for(self, location: str) -> FileIO:
        """The FileIO for a location's scheme (one shared instance per scheme)."""
        scheme = location.split("://", 1)[0] if "://" in location else "file"
        with self._io_lock:
            io = self._io_by_scheme.get(scheme)
            if io is None:
                io = load_file_io(self.fileio_properties, location)
                self._io_by_scheme[scheme] = io
            return io

    # ---- tables ----------------------------------------------------------------------
    def read_table(self, location: str) -> TableMetadata:
        """Parse (once) the table metadata file at ``location``."""

        def load() -> TableMetadata:
            try:
                return FromInputFile.table_metadata(self.io_for(location).new_input(location))
            except Exception as exc:  # any I/O or parse failure: the catalog points at a bad file
                raise MetadataUnreadableError(f"Cannot read table metadata {location}: {exc}") from exc

        return self._tables.get_or_create(location, load)

    def write_table(self, metadata: TableMetadata, location: str) -> None:
        """Write a new (never existing) metadata file and remember it, parsed and serialized.

        Serialized once, as PyIceberg's ``ToOutputFile`` would (same JSON, gzip when the
        location says so); the same bytes then serve the commit response and loadTable.
        """
        data = metadata.model_dump_json().encode()
        payload = Compressor.get_compressor(location).bytes_compressor()(data)
        with self.io_for(location).new_output(location).create(overwrite=False) as out:
            out.write(payload)
        self._tables.put(location, metadata)
        self._bodies.put((location, "all"), data)

    def table_response(self, location: str, snapshots: SnapshotsMode, config: dict[str, str]) -> bytes:
        """The serialized LoadTableResult for a metadata file, cached by (location, mode).

        ``refs`` keeps only the snapshots that a branch or tag points at, as the spec says.
        """
        return metadata_result(location, self.table_json(location, snapshots), config)

    def commit_response(self, location: str) -> bytes:
        """The CommitTableResponse body for a metadata file (no ``config`` in that one)."""
        return metadata_result(location, self.table_json(location), None)

    def table_json(self, location: str, snapshots: SnapshotsMode = "all") -> bytes:
        """The metadata as JSON; ``refs`` keeps only the snapshots a branch or tag points at (per the spec)."""

        def build() -> bytes:
            metadata = self.read_table(location)
            if snapshots == "refs":
                referenced = {ref.snapshot_id for ref in metadata.refs.values()}
                if len(referenced) < len(metadata.snapshots):
                    kept = [s for s in metadata.snapshots if s.snapshot_id in referenced]
                    return metadata.model_copy(update={"snapshots": kept}).model_dump_json().encode()
                return self.table_json(location, "all")
            return metadata.model_dump_json().encode()

        return self._bodies.get_or_create((location, snapshots), build)

    # ---- views -----------------------------------------------------------------------
    def read_view(self, location: str) -> ViewMetadata:
        """Parse (once) the view metadata file at ``location``."""

        def load() -> ViewMetadata:
            try:
                with self.io_for(location).new_input(location).open() as stream:
                    return ViewMetadata.model_validate_json(stream.read())
            except Exception as exc:
                raise MetadataUnreadableError(f"Cannot read view metadata {location}: {exc}") from exc

        return self._views.get_or_create(location, load)

    def write_view(self, metadata: ViewMetadata, location: str) -> None:
        """Write a new view metadata file and remember it."""
        with self.io_for(location).new_output(location).create(overwrite=False) as out:
            out.write(metadata.model_dump_json().encode())
        self._views.put(location, metadata)

    # ---- housekeeping -----------------------------------------------------------------
    def delete_quietly(self, location: str) -> None:
        """Delete a file we wrote for a commit that lost its race (best effort)."""
        # The file is unreferenced either way; an orphan left behind is harmless.
        with contextlib.suppress(Exception):
            self.io_for(location).delete(location)
