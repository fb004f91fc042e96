"""The fast path of GH Archive parsing: a block of lines at once, in C++, nothing per line in Python.

No library reads GH Archive lines the way ``raw.github_events`` needs them: Arrow's JSON
reader types the envelope strictly (a number where a string belongs is an error, not a
silent conversion), but it cannot keep ``payload`` as JSON text; DuckDB keeps JSON text,
but converts envelope types leniently (``5`` → ``'5'``, ``1.5`` → ``2``). So each does
its half:

1. the payload value of every line is located by byte search (the first ``"payload":``,
   the last ``,"public":``, where GH Archive writes them) and cut out;
2. the rest of the line, with ``0`` in place of the payload, is read by Arrow's JSON
   reader with the envelope schema, strictly: unknown fields, wrong types, duplicate keys
   or malformed JSON fail it. A payload of ``0`` where the cut was made proves the cut
   started at the value of the top-level ``payload`` key;
3. the cut-out payload texts are validated by DuckDB, which must also re-serialize each
   to itself: then the text is compact and exactly what orjson writes (but for the number
   formats flagged below), so the column keeps the source's text. A valid JSON value
   starting at the value's start is that whole value, so together with 2. the line is
   exactly ``rest + payload``.

Any line that does not pass every check is handed back by index, for the precise per-line
path of :mod:`ingestion.sources.gharchive_events` (with its reject reasons and positions),
so the fast path never decides anything that path would decide differently: it only
accepts lines whose values are unambiguous. A block that Arrow refuses is bisected, so a
malformed line costs a few re-reads of its neighbourhood, not the whole block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ingestion.schemas import GITHUB_EVENTS, UNIT_COLUMN

PAYLOAD_KEY = '"payload":'
PUBLIC_KEY = ',"public":'
# Blocks Arrow refuses are bisected down to this many lines, which go to the precise path.
SMALLEST_BISECT = 64
LINE_COLUMN = "_line"

_TIMESTAMP = pa.timestamp("us", tz="UTC")
# The envelope as Arrow reads it: payload replaced by 0, created_at cast afterwards (as the precise path does).
_READ_AS = {"payload": pa.int64(), "created_at": pa.string()}
ENVELOPE = pa.schema([pa.field(f.name, _READ_AS.get(f.name, f.type)) for f in GITHUB_EVENTS if f.name != UNIT_COLUMN])
# Compact payload texts that orjson (the precise path) would write differently: floats
# (exponent formats differ), integers of 19 digits or more (orjson reads those beyond 64
# bits as floats) and NaN/Infinity/inf/nan (which DuckDB accepts and orjson does not).
# Matching text inside strings only sends a line to the precise path, which is always right.
_UNSURE_NUMBERS = r"(?:^|[:,\[])-?(?:[0-9]+[.eE]|[0-9]{19}|[NIi]|na)"
# Escapes whose reading differs between libraries: NUL and (lone) surrogates.
_RISKY_ESCAPES = r"\\u(?:0000|[dD][89a-fA-F])"


@dataclass
class FastBlock:
    """What the fast path made of a block of lines."""

    rows: pa.Table  # GITHUB_EVENTS without the unit column, plus LINE_COLUMN (index of the line in the block)
    fallback: np.ndarray  # indices of the lines the precise path must read, ascending
    starts: np.ndarray  # byte offset of every line in the block
    ends: np.ndarray  # byte offset after every line (its newline excluded)


def split_lines(block: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Start and end offsets of the lines of a block, as ``bytes.split(b"\\n")`` numbers them.

    A final piece after the last newline is a line only when it is not empty.
    """
    data = np.frombuffer(block, np.uint8)
    newlines = np.flatnonzero(data == 10)
    starts = np.empty(len(newlines) + 1, np.int64)
    starts[0] = 0
    starts[1:] = newlines + 1
    ends = np.append(newlines, len(block))
    if starts[-1] == len(block):
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends


class FastParser:
    """Parses blocks of GH Archive lines; one per thread (it holds a DuckDB connection)."""

    def __init__(self) -> None:
        # One DuckDB thread: a block's payloads are one Arrow batch, which DuckDB does not split.
        self._duckdb = duckdb.connect(config={"threads": 1})
        self._read_options = pj.ReadOptions(use_threads=False, block_size=1 << 20)  # blocks are parsed in parallel
        self._parse_options = pj.ParseOptions(explicit_schema=ENVELOPE, unexpected_field_behavior="error")

    def close(self) -> None:
        """Release the DuckDB connection."""
        self._duckdb.close()

    def parse(self, block: bytes) -> FastBlock:
        """Parse a block of whole lines (the last may lack its newline)."""
        starts, ends = split_lines(block)
        n = len(starts)
        fallback = np.zeros(n, bool)
        if n == 0:
            return FastBlock(_empty_rows(), np.flatnonzero(fallback), starts, ends)
        data = np.frombuffer(block, np.uint8)
        # Lines including their newline: the offsets of a binary array.
        offsets = np.append(starts, len(block)).astype(np.int32)
        lines = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(block)])
        try:
            lines.cast(pa.string())  # the precise path rejects invalid UTF-8: leave those lines to it
        except pa.ArrowInvalid:
            return FastBlock(_empty_rows(), np.arange(n), starts, ends)
        key = _occurrences(block.find, PAYLOAD_KEY.encode(), starts, ends)
        value_start = key + len(PAYLOAD_KEY)
        value_end = _occurrences(block.rfind, PUBLIC_KEY.encode(), starts, ends)
        fallback |= (key < 0) | (value_end <= value_start)
        fallback |= pc.match_substring_regex(lines, _RISKY_ESCAPES).to_numpy(zero_copy_only=False)

        candidates = np.flatnonzero(~fallback)
        envelope, refused = self._read_envelopes(data, candidates, offsets, value_start, value_end)
        fallback[refused] = True
        candidates = candidates[~np.isin(candidates, refused)]  # the envelope table holds the lines Arrow read
        if len(candidates) == 0:
            return FastBlock(_empty_rows(), np.flatnonzero(fallback), starts, ends)

        ok = pc.and_kleene(pc.equal(envelope["payload"], 0), pc.greater(pc.binary_length(envelope["id"]), 0))
        ok = pc.and_kleene(ok, pc.greater(pc.binary_length(envelope["type"]), 0))
        try:
            created = envelope["created_at"].cast(_TIMESTAMP)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            created = None  # some timestamp Arrow cannot read: the precise path knows more formats
        payloads = self._checked_payloads(
            _gather(data, value_start[candidates], value_end[candidates] - value_start[candidates])
        )
        ok = pc.and_kleene(ok, payloads["ok"].combine_chunks())
        ok = ok.fill_null(False).to_numpy(zero_copy_only=False)
        if created is None:
            ok[:] = False
        fallback[candidates[~ok]] = True
        if not ok.any():
            return FastBlock(_empty_rows(), np.flatnonzero(fallback), starts, ends)
        mask = pa.array(ok)
        columns = {
            name: envelope[name].combine_chunks().filter(mask) for name in ("id", "type", "actor", "repo", "org")
        }
        columns["payload"] = payloads["payload"].combine_chunks().cast(pa.string()).filter(mask)
        columns["public"] = envelope["public"].combine_chunks().filter(mask)
        columns["created_at"] = created.combine_chunks().filter(mask)
        columns[LINE_COLUMN] = pa.array(candidates[ok])
        rows = pa.table([columns[f.name].cast(f.type) for f in _ROWS_SCHEMA], schema=_ROWS_SCHEMA)
        return FastBlock(rows, np.flatnonzero(fallback), starts, ends)

    def _checked_payloads(self, payloads: pa.Table) -> pa.Table:
        """The payload texts (column ``p``) as the column keeps them (``payload``), and whether each is ``ok``.

        A text is ok when it is valid JSON that DuckDB re-serializes to itself (compact, no
        escape orjson would write otherwise, no trailing comma: then it is exactly what
        orjson writes too) and has no number whose format could differ.
        """
        self._duckdb.register("payloads", payloads)
        try:
            return self._duckdb.execute(
                "SELECT CASE WHEN p = 'null' THEN NULL ELSE p END AS payload,"
                " coalesce(TRY(json(p))::VARCHAR = p AND NOT regexp_matches(p, ?), false) AS ok FROM payloads",
                [_UNSURE_NUMBERS],
            ).to_arrow_table()
        finally:
            self._duckdb.unregister("payloads")

    def _read_envelopes(
        self,
        data: np.ndarray,
        lines: np.ndarray,
        offsets: np.ndarray,
        value_start: np.ndarray,
        value_end: np.ndarray,
    ) -> tuple[pa.Table, np.ndarray]:
        """Arrow's strict reading of these lines with ``0`` for the payload; the lines it refused."""
        if len(lines) == 0:
            return ENVELOPE.empty_table(), lines
        # Each line as three pieces: up to the payload value, a "0", from the value's end on.
        piece_start = np.empty(3 * len(lines), np.int64)
        piece_size = np.empty(3 * len(lines), np.int64)
        piece_start[0::3], piece_size[0::3] = offsets[lines], value_start[lines] - offsets[lines]
        piece_start[1::3], piece_size[1::3] = -1, 1  # -1: the "0" below
        piece_start[2::3], piece_size[2::3] = value_end[lines], offsets[lines + 1] - value_end[lines]
        text = _byte_ranges(data, piece_start, piece_size, filler=b"0").cast(pa.binary()).buffers()[2]
        line_size = piece_size.reshape(-1, 3).sum(axis=1)
        line_offset = np.concatenate([[0], np.cumsum(line_size)])
        return self._read_bisecting(text, line_offset, lines)

    def _read_bisecting(
        self, text: pa.Buffer, line_offset: np.ndarray, lines: np.ndarray
    ) -> tuple[pa.Table, np.ndarray]:
        try:
            table = pj.read_json(
                pa.BufferReader(text.slice(int(line_offset[0]), int(line_offset[-1] - line_offset[0]))),
                read_options=self._read_options,
                parse_options=self._parse_options,
            )
            if table.num_rows == len(lines):
                return table, lines[:0]
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        if len(lines) <= SMALLEST_BISECT:
            return ENVELOPE.empty_table(), lines
        half = len(lines) // 2
        first, refused_first = self._read_bisecting(text, line_offset[: half + 1], lines[:half])
        second, refused_second = self._read_bisecting(text, line_offset[half:], lines[half:])
        return pa.concat_tables([first, second]), np.concatenate([refused_first, refused_second])


_ROWS_SCHEMA = pa.schema([*(f for f in GITHUB_EVENTS if f.name != UNIT_COLUMN), pa.field(LINE_COLUMN, pa.int64())])


def _empty_rows() -> pa.Table:
    return _ROWS_SCHEMA.empty_table()


def _occurrences(
    find: Callable[[bytes, int, int], int], needle: bytes, starts: np.ndarray, ends: np.ndarray
) -> np.ndarray:
    """Offset in the block of the first (``bytes.find``) or last (``bytes.rfind``) ``needle`` of each line, or -1."""
    # A plain loop over the lines: bytes.find/rfind are fast searches, several times faster
    # than Arrow's find_substring kernel, and Arrow has no reverse search.
    return np.fromiter(
        (find(needle, s, e) for s, e in zip(starts.tolist(), ends.tolist(), strict=True)), np.int64, len(starts)
    )


def _byte_ranges(data: np.ndarray, starts: np.ndarray, sizes: np.ndarray, filler: bytes = b"") -> pa.Array:
    """The byte ranges ``data[start:start+size]`` as a binary-view array over ``data`` (no copy).

    A range with start -1 is ``filler`` (at most 12 bytes, stored in the view itself). Written
    by hand because Arrow has no kernel that takes byte ranges of a buffer; its list-view
    flattening does the same job several times slower. The views follow Arrow's layout:
    length, then either the value inline (up to 12 bytes) or a 4-byte prefix, buffer 0 and offset.
    """
    n = len(starts)
    views = np.zeros((n, 4), np.int32)
    views[:, 0] = sizes
    views[:, 3] = np.maximum(starts, 0)
    raw = views.view(np.uint8)
    first = data[np.minimum(np.maximum(starts, 0)[:, None] + np.arange(12), len(data) - 1)]
    first[np.arange(12) >= sizes[:, None]] = 0
    if filler:
        first[starts < 0] = np.frombuffer(filler.ljust(12, b"\0"), np.uint8)
    raw[:, 4:8] = first[:, :4]
    inline = sizes <= 12
    raw[inline, 4:16] = first[inline]
    return pa.Array.from_buffers(pa.binary_view(), n, [None, pa.py_buffer(views), pa.py_buffer(data)])


def _gather(data: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> pa.Table:
    """The byte ranges as a one-column table of strings (``p``) for DuckDB."""
    return pa.table({"p": _byte_ranges(data, starts, sizes).cast(pa.string())})
