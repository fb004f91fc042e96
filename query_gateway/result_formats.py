"""Query results as JSON, JSON lines, CSV, Arrow IPC stream or Parquet, chosen by ``Accept``."""

from __future__ import annotations

import datetime as dt
import decimal
import io
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from query_gateway.errors import QueryError

JSON = "application/json"
JSON_LINES = "application/x-ndjson"
CSV = "text/csv"
ARROW = "application/vnd.apache.arrow.stream"
PARQUET = "application/vnd.apache.parquet"

_BY_NAME = {"json": JSON, "jsonl": JSON_LINES, "csv": CSV, "arrow": ARROW, "parquet": PARQUET}
_ALIASES = {
    "application/json": JSON,
    "application/x-ndjson": JSON_LINES,
    "application/jsonl": JSON_LINES,
    "text/csv": CSV,
    "application/vnd.apache.arrow.stream": ARROW,
    "application/vnd.apache.arrow.file": ARROW,
    "application/vnd.apache.parquet": PARQUET,
    "application/x-parquet": PARQUET,
    "application/parquet": PARQUET,
    "*/*": JSON,
    "application/*": JSON,
}
ROWS_PER_CHUNK = 5000


def negotiate(accept: str | None, format_name: str | None = None) -> str:
    """The media type to answer with: ``?format=`` wins, then the first supported ``Accept`` entry."""
    if format_name:
        if format_name.lower() not in _BY_NAME:
            raise QueryError(f"Unknown format {format_name!r}; use one of {sorted(_BY_NAME)}", status=406)
        return _BY_NAME[format_name.lower()]
    if not accept:
        return JSON
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in _ALIASES:
            return _ALIASES[media]
    raise QueryError(f"Cannot answer with {accept!r}; supported: {sorted(set(_ALIASES.values()))}", status=406)


def _default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


def _rows(batch: pa.RecordBatch | pa.Table) -> list[list[Any]]:
    # Column-wise, so duplicate column names (SELECT a, a) keep both values.
    columns = [column.to_pylist() for column in batch.columns]
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def json_rows(table: pa.Table) -> bytes:
    """The rows as one JSON array of arrays."""
    return orjson.dumps(_rows(table), default=_default)


def json_body(table: pa.Table, rows: bytes, truncated: bool, stats: dict[str, Any]) -> bytes:
    """``{"columns", "rows", "truncated", "stats"}`` around already encoded rows."""
    head = b'{"columns":' + orjson.dumps(table.column_names) + b',"rows":'
    tail = b',"truncated":' + (b"true" if truncated else b"false") + b',"stats":' + orjson.dumps(stats) + b"}"
    return head + rows + tail


def json_chunks(table: pa.Table, truncated: bool, stats: dict[str, Any]) -> Iterator[bytes]:
    """The same document as ``json_body``, produced a batch of rows at a time (for large results)."""
    yield b'{"columns":' + orjson.dumps(table.column_names) + b',"rows":['
    first = True
    for batch in table.to_batches(max_chunksize=ROWS_PER_CHUNK):
        rows = orjson.dumps(_rows(batch), default=_default)[1:-1]
        if rows:
            yield (b"" if first else b",") + rows
            first = False
    yield b'],"truncated":' + (b"true" if truncated else b"false") + b',"stats":' + orjson.dumps(stats) + b"}"


def json_lines(table: pa.Table) -> Iterator[bytes]:
    """The column names, then one JSON array per row, one per line (the OSO result format)."""
    yield orjson.dumps(table.column_names) + b"\n"
    for batch in table.to_batches(max_chunksize=ROWS_PER_CHUNK):
        yield b"".join(orjson.dumps(row, default=_default) + b"\n" for row in _rows(batch))


def binary_chunks(table: pa.Table, media_type: str) -> Iterator[bytes]:
    """The table in a binary or CSV format, chunk by chunk."""
    if media_type == ARROW:
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            for batch in table.to_batches(max_chunksize=ROWS_PER_CHUNK):
                writer.write_batch(batch)
                yield _drain(sink)
        yield _drain(sink)
    elif media_type == CSV:
        first = True
        for batch in table.to_batches(max_chunksize=ROWS_PER_CHUNK) or [table.schema.empty_table()]:
            sink = io.BytesIO()
            pa_csv.write_csv(batch, sink, pa_csv.WriteOptions(include_header=first))
            first = False
            yield sink.getvalue()
    elif media_type == PARQUET:
        sink = io.BytesIO()
        pq.write_table(table, sink)
        yield sink.getvalue()
    else:
        raise ValueError(media_type)


def _drain(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return data
