"""The fast path of GH Archive parsing: a block of lines at once, in C (msgspec) and C++ (Arrow).

1. msgspec decodes every line of the block in one call into typed structs: it validates
   the whole line as strict JSON and the envelope types strictly (a number where a string
   belongs is an error, not a silent conversion; unknown top-level fields are errors), and
   keeps ``payload`` as its source text (``msgspec.Raw``), validated but not decoded;
2. Arrow builds the columns and checks what msgspec does not: UTF-8 of the whole block
   (msgspec does not check text it skips), non-empty ids and types, ``created_at`` in
   GH Archive's exact format, and that each payload text is *canonical*: compact, written
   with the escapes orjson writes and without numbers whose format orjson could write
   differently (floats, ``-0``, 19 digits or more). The precise path keeps such a text as it
   is too (see :mod:`ingestion.sources.payload_text`).

Any line that does not pass every check is handed back by index, for the precise per-line
path of :mod:`ingestion.sources.gharchive_events` (with its reject reasons and positions),
so the fast path never decides anything that path would decide differently: it only
accepts lines whose values are unambiguous.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from msgspec.structs import astuple

from ingestion.schemas import GITHUB_EVENTS, UNIT_COLUMN
from ingestion.sources.payload_text import canonical

LINE_COLUMN = "_line"
_OPEN, _CLOSE, _NEWLINE = b"{}\n"

_TIMESTAMP = pa.timestamp("us", tz="UTC")
# The one timestamp format of GH Archive; any other goes to the precise path, which knows more.
_CREATED_AT = r"^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"


def _msgspec_struct(name: str, arrow_type: pa.StructType) -> type[msgspec.Struct]:
    """A msgspec struct for an Arrow struct column: fields optional, unknown fields ignored (as the precise path)."""
    fields = [(f.name, int | None if pa.types.is_integer(f.type) else str | None, None) for f in arrow_type]
    return msgspec.defstruct(name, fields, gc=False)


def _large_strings(arrow_type: pa.DataType) -> pa.DataType:
    """The type with ``large_string`` for ``string``, as PyIceberg's Arrow schemas have them (no cast when written)."""
    if arrow_type == pa.string():
        return pa.large_string()
    if pa.types.is_struct(arrow_type):
        return pa.struct([f.with_type(_large_strings(f.type)) for f in arrow_type])
    return arrow_type


_NESTED = {name: _large_strings(GITHUB_EVENTS.field(name).type) for name in ("actor", "repo", "org")}
_NESTED_STRUCTS = {name: _msgspec_struct(name.title(), arrow_type) for name, arrow_type in _NESTED.items()}
_NO_PAYLOAD = msgspec.Raw(b"null")
Event = msgspec.defstruct(
    "Event",
    [
        ("id", str),
        ("type", str),
        ("created_at", str),
        *((name, struct | None, None) for name, struct in _NESTED_STRUCTS.items()),
        ("payload", msgspec.Raw, _NO_PAYLOAD),
        ("public", bool | None, None),
    ],
    forbid_unknown_fields=True,
    gc=False,
)
_DECODER = msgspec.json.Decoder(Event)
_DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)


@dataclass
class FastBlock:
    """What the fast path made of a block of lines."""

    rows: pa.Table  # GITHUB_EVENTS (large strings) without the unit column, plus LINE_COLUMN (the line's index)
    fallback: np.ndarray  # indices of the lines the precise path must read, ascending
    fallback_lines: list[bytes]  # those lines (without their newline)
    line_count: int  # lines in the block, as ``bytes.split(b"\n")`` counts them (see split_lines)


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


def parse_block(block: bytes) -> FastBlock:
    """Parse a block of whole lines (the last may lack its newline); safe to call from several threads."""
    starts, ends = split_lines(block)
    count = len(starts)
    events, decoded = _decode(block, starts, ends)
    columns, valid = _columns(events)
    if not valid.all():
        keep = pa.array(valid)
        columns = {name: column.filter(keep) for name, column in columns.items()}
        decoded = decoded[valid]
    columns[LINE_COLUMN] = pa.array(decoded, pa.int64())
    rows = pa.table([columns[f.name] for f in _ROWS_SCHEMA], schema=_ROWS_SCHEMA)
    if len(decoded) == count:
        return FastBlock(rows, np.zeros(0, np.int64), [], count)
    fallback = np.ones(count, bool)
    fallback[decoded] = False
    fallback_indices = np.flatnonzero(fallback)
    lines = [block[starts[i] : ends[i]] for i in fallback_indices.tolist()]
    return FastBlock(rows, fallback_indices, lines, count)


def _decode(block: bytes, starts: np.ndarray, ends: np.ndarray) -> tuple[list, np.ndarray]:
    """The events msgspec decodes, and the index of the line of each; all lines at once when it can."""
    if _one_object_per_line(block, starts, ends) and _valid_utf8(block):
        try:
            events = _DECODER.decode_lines(block)
            if len(events) == len(starts):  # no line holds two values (see _one_object_per_line)
                return events, np.arange(len(starts))
        except _DECODE_ERRORS:
            pass
    events, decoded = [], []
    decode = _DECODER.decode
    for i, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        line = block[start:end]
        try:
            line.decode()  # msgspec does not check the UTF-8 of the text it skips
            events.append(decode(line))
        except _DECODE_ERRORS:
            continue
        decoded.append(i)
    return events, np.array(decoded, np.int64)


def _one_object_per_line(block: bytes, starts: np.ndarray, ends: np.ndarray) -> bool:
    """Whether every line starts with ``{`` and ends with ``}``.

    ``decode_lines`` reads any whitespace-separated JSON values, blank lines skipped. When
    every line looks like this, no value spans lines (a JSON string cannot hold a newline,
    and no value goes on after a ``}`` with a ``{``), so each line holds at least one value,
    and exactly one when there are as many values as lines.
    """
    data = np.frombuffer(block, np.uint8)
    if not len(starts) or (starts == ends).any():
        return False
    return bool((data[starts] == _OPEN).all() and (data[ends - 1] == _CLOSE).all())


def _valid_utf8(block: bytes) -> bool:
    """Whether a block is valid UTF-8 (msgspec does not check the text it skips), checked by Arrow without a copy."""
    whole = pa.Array.from_buffers(
        pa.string(), 1, [None, pa.py_buffer(np.array([0, len(block)], np.int32)), pa.py_buffer(block)]
    )
    try:
        whole.validate(full=True)
        return True
    except pa.ArrowInvalid:
        return False


def _columns(events: list) -> tuple[dict[str, pa.Array], np.ndarray]:
    """The columns of decoded events, and which events the fast path vouches for."""
    valid = np.ones(len(events), bool)
    if not events:
        return {f.name: pa.array([], f.type) for f in _ROWS_SCHEMA if f.name != LINE_COLUMN}, valid
    ids, types, created_at, actors, repos, orgs, payloads, publics = zip(*map(astuple, events), strict=True)
    columns: dict[str, pa.Array] = {}
    for name, values in (("id", ids), ("type", types)):
        columns[name] = pa.array(values, pa.large_string())
        if "" in values:
            valid &= pc.greater(pc.binary_length(columns[name]), 0).to_numpy(zero_copy_only=False)
    for name, values in (("actor", actors), ("repo", repos), ("org", orgs)):
        columns[name], fits = _struct_column(values, _NESTED_STRUCTS[name], _NESTED[name])
        valid &= fits
    payload, absent = _payload_texts(payloads)
    valid &= canonical(payload)
    if absent is not None:
        payload = pc.if_else(absent, pa.scalar(None, pa.large_string()), payload)
    columns["payload"] = payload
    columns["public"] = pa.array(publics, pa.bool_())
    created = pa.array(created_at, pa.string())
    valid &= pc.match_substring_regex(created, _CREATED_AT).to_numpy(zero_copy_only=False)
    try:
        columns["created_at"] = created.cast(_TIMESTAMP)
    except pa.ArrowInvalid:  # a day that does not exist, or another format: each on its own
        timestamps = [_timestamp(value) for value in created]
        valid &= np.array([value is not None for value in timestamps], bool)
        columns["created_at"] = pa.array(timestamps, _TIMESTAMP)
    return columns, valid


def _timestamp(value: pa.Scalar) -> pa.Scalar | None:
    """Arrow's strict reading of one timestamp string (``strptime`` would roll 30 February over), or None."""
    try:
        return value.cast(_TIMESTAMP)
    except pa.ArrowInvalid:
        return None


def _struct_column(
    values: list, struct: type[msgspec.Struct], arrow_type: pa.StructType
) -> tuple[pa.Array, np.ndarray]:
    """An Arrow struct column of decoded structs (or None), and which values fit it (integers beyond 64 bits do not)."""
    fits = np.ones(len(values), bool)
    mask = None
    if None in values:
        nulls = [value is None for value in values]
        mask = pa.array(nulls)
        empty = struct()
        values = [empty if is_null else value for value, is_null in zip(values, nulls, strict=True)]
    children = []
    for field in arrow_type:
        items = list(map(attrgetter(field.name), values))
        try:
            children.append(pa.array(items, field.type))
        except OverflowError:  # an integer beyond 64 bits: the precise path rejects it
            out_of_range = [isinstance(v, int) and not -(2**63) <= v < 2**63 for v in items]
            fits &= ~np.array(out_of_range, bool)
            kept = [None if bad else v for v, bad in zip(items, out_of_range, strict=True)]
            children.append(pa.array(kept, field.type))
    return pa.StructArray.from_arrays(children, fields=list(arrow_type), mask=mask), fits


def _payload_texts(raws: tuple[msgspec.Raw, ...]) -> tuple[pa.Array, pa.Array | None]:
    """The payloads' source texts as one string array (one copy, no object per payload), and which are ``null``."""
    sizes = np.fromiter(map(len, raws), np.int64, len(raws))
    offsets = np.zeros(len(raws) + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    data = b"".join(raws)
    # Valid UTF-8: each text is a JSON value of a line whose UTF-8 was checked.
    texts = pa.Array.from_buffers(pa.large_string(), len(raws), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    absent = pc.equal(texts, "null") if (sizes == 4).any() else None
    return texts, absent


_ROWS_SCHEMA = pa.schema(
    [
        *(f.with_type(_large_strings(f.type)) for f in GITHUB_EVENTS if f.name != UNIT_COLUMN),
        pa.field(LINE_COLUMN, pa.int64()),
    ]
)


def _empty_rows() -> pa.Table:
    return _ROWS_SCHEMA.empty_table()
