"""Copying remote files into the local warehouse, each verified before anything refers to it.

A copied file counts only once its size equals what the source manifest declares and, for
Parquet, its footer holds the declared row count. A file already at its target with the
right size and rows (left by an interrupted refresh) is reused instead of copied again.
Files are copied by a few threads at once: the work is I/O, and PyArrow's streams release
the GIL.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass

import pyarrow.parquet as pq
from pyiceberg.io import FileIO

from mirror.errors import SourceFileError

CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class FileToCopy:
    """A remote file, where it goes, and what its manifest declares about it."""

    source: str
    target: str
    size: int
    record_count: int | None = None
    file_format: str | None = None  # "PARQUET" gets its footer checked


@dataclass
class CopyStats:
    """What a refresh moved: files and bytes copied, files reused, metadata written."""

    files_copied: int = 0
    bytes_copied: int = 0
    files_reused: int = 0
    metadata_files_written: int = 0
    metadata_bytes_written: int = 0

    def add(self, other: CopyStats) -> None:
        """Accumulate another table's figures."""
        self.files_copied += other.files_copied
        self.bytes_copied += other.bytes_copied
        self.files_reused += other.files_reused
        self.metadata_files_written += other.metadata_files_written
        self.metadata_bytes_written += other.metadata_bytes_written


class FileCopier:
    """Copies and verifies files from one FileIO to another."""

    def __init__(
        self,
        source_io: FileIO,
        target_io: FileIO,
        workers: int = 4,
        on_file: Callable[[FileToCopy], None] | None = None,
    ) -> None:
        self.source_io = source_io
        self.target_io = target_io
        self.workers = workers
        self.on_file = on_file
        self.stats = CopyStats()
        self._lock = threading.Lock()

    def copy_all(self, files: list[FileToCopy]) -> None:
        """Copy every file (in parallel); the first failure stops the rest and is raised."""
        if not files:
            return
        if self.workers == 1 or len(files) == 1:
            for item in files:
                self.copy(item)
            return
        with ThreadPoolExecutor(max_workers=min(self.workers, len(files)), thread_name_prefix="mirror-copy") as pool:
            futures = [pool.submit(self.copy, item) for item in files]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for future in pending:
                future.cancel()
            for future in done:
                error = future.exception()
                if error is not None:
                    raise error

    def copy(self, item: FileToCopy) -> None:
        """Copy one file unless a verified copy is already there."""
        if self._present(item):
            with self._lock:
                self.stats.files_reused += 1
        else:
            copied = self._transfer(item)
            try:
                self._check_rows(item)
            except SourceFileError:
                with contextlib.suppress(OSError):
                    self.target_io.delete(item.target)
                raise
            with self._lock:
                self.stats.files_copied += 1
                self.stats.bytes_copied += copied
        if self.on_file is not None:
            self.on_file(item)

    def _present(self, item: FileToCopy) -> bool:
        try:
            if len(self.target_io.new_input(item.target)) != item.size:
                return False
            self._check_rows(item)
        except (FileNotFoundError, SourceFileError, OSError):
            return False
        return True

    def _transfer(self, item: FileToCopy) -> int:
        source = self.source_io.new_input(item.source)
        try:
            actual = len(source)
        except FileNotFoundError as exc:
            raise SourceFileError(f"Remote file {item.source} is missing (its manifest still lists it)") from exc
        except OSError as exc:
            raise SourceFileError(f"Remote file {item.source} cannot be read: {exc}") from exc
        if actual != item.size:
            raise SourceFileError(
                f"Remote file {item.source} has {actual} bytes but its manifest declares {item.size}: "
                "it is corrupted or was replaced"
            )
        try:
            with source.open() as src, self.target_io.new_output(item.target).create(overwrite=True) as dst:
                shutil.copyfileobj(src, dst, CHUNK_BYTES)
        except FileNotFoundError as exc:
            raise SourceFileError(f"Remote file {item.source} disappeared while being copied") from exc
        copied = len(self.target_io.new_input(item.target))
        if copied != item.size:
            with contextlib.suppress(OSError):
                self.target_io.delete(item.target)
            raise SourceFileError(f"Copy of {item.source} has {copied} bytes, expected {item.size}")
        return copied

    def _check_rows(self, item: FileToCopy) -> None:
        """The copied Parquet file's footer must hold the row count its manifest declares."""
        if item.record_count is None or (item.file_format or "").upper() != "PARQUET":
            return
        try:
            with self.target_io.new_input(item.target).open(seekable=True) as stream:
                rows = pq.ParquetFile(stream).metadata.num_rows
        except FileNotFoundError:
            raise
        except Exception as exc:  # PyArrow raises ArrowInvalid/OSError for a damaged footer
            raise SourceFileError(f"Remote file {item.source} is not a readable Parquet file: {exc}") from exc
        if rows != item.record_count:
            raise SourceFileError(
                f"Remote file {item.source} holds {rows} rows but its manifest declares {item.record_count}"
            )
