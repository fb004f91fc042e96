"""GH Archive: hourly ``YYYY-MM-DD-H.json.gz`` files of public GitHub events.

Each hour file is one unit of load, read from a local directory or an HTTP base URL
(default ``https://data.gharchive.org``) as a stream: a background thread downloads and
decompresses while the caller parses, and whole lines are handed over in blocks of a few
megabytes, so memory stays bounded whatever the size of the file.
"""

from __future__ import annotations

import io
import queue
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from isal import igzip, isal_zlib

DEFAULT_BASE_URL = "https://data.gharchive.org"
BLOCK_BYTES = 4 << 20


class SourceError(Exception):
    """The source cannot be read at all (missing path, unreachable URL, bad range)."""


class MissingUnit(SourceError):
    """One hour file is not at the source (GH Archive has a few gaps)."""


class CorruptUnit(SourceError):
    """One hour file cannot be decompressed."""


def hour_unit(hour: datetime) -> str:
    """The GH Archive file stem of an hour, e.g. ``2015-01-01-15`` (hours are not zero-padded)."""
    return f"{hour:%Y-%m-%d}-{hour.hour}"


def parse_hour(text: str) -> datetime:
    """Parse ``YYYY-MM-DD-H`` (or ``YYYY-MM-DDTHH``, ``YYYY-MM-DD``) as an hour in UTC."""
    for fmt in ("%Y-%m-%d-%H", "%Y-%m-%dT%H", "%Y-%m-%d %H", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise SourceError(f"Not an hour: {text!r} (expected YYYY-MM-DD-H, e.g. 2024-01-31-15)")


def hour_range(start: datetime, end: datetime, max_hours: int = 24 * 366 * 20) -> list[datetime]:
    """Every hour from ``start`` to ``end`` inclusive."""
    start = start.replace(minute=0, second=0, microsecond=0)
    if end < start:
        raise SourceError(f"Bad hour range: end {hour_unit(end)} is before start {hour_unit(start)}")
    count = int((end - start) / timedelta(hours=1)) + 1
    if count > max_hours:
        raise SourceError(f"Bad hour range: {count:,} hours is more than {max_hours:,}")
    return [start + timedelta(hours=h) for h in range(count)]


class GhArchiveSource:
    """Hour files from a local directory or an HTTP base URL."""

    def __init__(self, location: str | Path = DEFAULT_BASE_URL, timeout: float = 60.0) -> None:
        self.location = str(location).rstrip("/")
        self.is_http = self.location.startswith(("http://", "https://"))
        self.timeout = timeout
        if not self.is_http and not Path(self.location).is_dir():
            raise SourceError(f"GH Archive directory does not exist: {self.location}")

    def file_name(self, hour: datetime) -> str:
        """The file name of an hour."""
        return f"{hour_unit(hour)}.json.gz"

    def check_reachable(self) -> None:
        """Fail early with SourceError when an HTTP source does not answer at all."""
        if not self.is_http:
            return
        request = urllib.request.Request(self.location + "/", method="HEAD")
        try:
            urllib.request.urlopen(request, timeout=self.timeout).close()
        except urllib.error.HTTPError:
            pass  # the server answered (a 403/404 for the bare base URL is fine)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise SourceError(f"GH Archive source unreachable: {self.location}: {exc}") from exc

    def open(self, hour: datetime) -> BinaryIO:
        """The raw (gzip) byte stream of an hour file; MissingUnit when it is not there."""
        name = self.file_name(hour)
        if not self.is_http:
            path = Path(self.location) / name
            if not path.is_file():
                raise MissingUnit(f"GH Archive file does not exist: {path}")
            return open(path, "rb")
        url = f"{self.location}/{name}"
        try:
            return urllib.request.urlopen(url, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise MissingUnit(f"GH Archive file not found: {url}") from exc
            raise SourceError(f"GH Archive file {url}: HTTP {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise SourceError(f"GH Archive source unreachable: {url}: {exc}") from exc

    def blocks(self, hour: datetime, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
        """The decompressed hour file in blocks of whole lines, decompressed by a background thread."""
        stream = self.open(hour)
        return _threaded(decompressed_blocks(stream, hour_unit(hour), block_bytes))


def decompressed_blocks(stream: BinaryIO, unit: str, block_bytes: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Decompress a gzip stream (one or more members) into blocks that end at a newline.

    Blocks are about ``block_bytes`` long; only the last may lack its final newline. A line
    longer than a block makes a longer block. ISA-L's inflate (python-isal) is two to three
    times as fast as zlib's, and its reader does not hold the GIL while it inflates.
    """
    source = _ReadErrors(stream)
    pending: list[bytes] = []
    with stream:
        try:
            with igzip.IGzipFile(fileobj=source, mode="rb") as inflated:
                while data := inflated.read(block_bytes):
                    cut = data.rfind(b"\n") + 1
                    if cut:
                        yield b"".join([*pending, memoryview(data)[:cut]])  # one copy
                        pending = [data[cut:]] if cut < len(data) else []
                    else:
                        pending.append(data)
        except (OSError, EOFError, isal_zlib.error) as exc:
            if source.error is not None:
                raise SourceError(f"GH Archive file {unit}: read failed: {source.error}") from source.error
            if isinstance(exc, EOFError):
                raise CorruptUnit(f"GH Archive file {unit} is truncated") from exc
            raise CorruptUnit(f"GH Archive file {unit} is corrupt: {exc}") from exc
    if rest := b"".join(pending):
        yield rest


class _ReadErrors(io.RawIOBase):
    """A byte stream that remembers why a read failed (to tell a failed download from a corrupt file)."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self.stream = stream
        self.error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:
        try:
            return self.stream.readinto(buffer)
        except (OSError, urllib.error.URLError) as exc:
            self.error = exc
            raise


_DONE = object()


def _threaded(chunks: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """Run a block iterator in a background thread, at most ``depth`` blocks ahead.

    ISA-L inflates without the GIL, so decompression overlaps with parsing.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        handoff.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            handoff.put(exc)

    thread = threading.Thread(target=produce, name="gharchive-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                handoff.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)
        chunks_close = getattr(chunks, "close", None)
        if chunks_close is not None:
            chunks_close()
