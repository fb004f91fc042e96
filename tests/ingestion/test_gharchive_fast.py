"""The fast (vectorized) GH Archive parser gives exactly what the precise per-line parser gives.

Lines of every awkward kind are mixed with clean ones and cut into small blocks, so that
the fast path bisects, falls back line by line and merges both paths across block
boundaries; rows, rejects (positions and reasons) and duplicate counts must equal those of
the precise path reading all the lines one by one.
"""

from __future__ import annotations

import gzip
import io
import json
import random

import pyarrow as pa
import pytest

from ingestion.sources.gharchive import decompressed_blocks
from ingestion.sources.gharchive_events import EventBatchBuilder, RepoFilter, UnitCounts
from ingestion.sources.gharchive_fast import LINE_COLUMN, FastParser
from ingestion.sources.gharchive_unit import BlockParsers, HourFinisher, ParsedBlock
from tests.conftest import shared_file
from tests.ingestion.conftest import event


def _compact(record: object) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def _awkward_lines(count: int, seed: int = 7) -> list[str]:
    """Clean GH Archive lines with, now and then, each kind of line the fast path must leave alone."""
    rnd = random.Random(seed)
    at = "2024-03-01T10:00:00Z"
    kinds = [
        lambda i: _compact(event(str(i), at))[:-7],  # truncated
        lambda i: "",
        lambda i: _compact(event(str(i), at, payload={"x": 1.5, "y": 1e20, "z": -0.0})),
        lambda i: _compact(event(str(i), at, payload={"big": 2**70})),
        lambda i: _compact(event(str(i), at, id=i)),  # integer id
        lambda i: _compact(event(str(rnd.randrange(i + 1)), at)),  # duplicate id
        lambda i: _compact(event(str(i), at, newfield={"q": 1})),  # schema evolution
        lambda i: _compact(event(str(i), at, actor={"id": "77", "login": "digits"})),
        lambda i: _compact(event(str(i), at, actor={"id": "nan", "login": "x"})),
        lambda i: _compact(event(str(i), at, actor={"id": 1.5})),
        lambda i: json.dumps(event(str(i), at)),  # not compact
        lambda i: _compact(event(str(i), at)) + "\r",
        lambda i: _compact(event(str(i), at, payload=None)),
        lambda i: _compact({k: v for k, v in event(str(i), at).items() if k != "payload"}),
        lambda i: "[1, 2]",
        lambda i: _compact(event(str(i), at, public="true")),
        lambda i: _compact(event(str(i), "2024-03-01T12:00:00+02:00")),
        lambda i: _compact(event(str(i), "yesterday")),
        lambda i: json.dumps(event(str(i), at, payload={"s": 'é\U0001f600 \\ " \n \t \x01 /'}), separators=(",", ":")),
        lambda i: _compact(event(str(i), at, actor={"id": 1, "login": "x", "extra": 1})),
        lambda i: _compact(event(str(i), at, type="")),
        lambda i: _compact(event(str(i), at, payload={"public": True, "payload": {"x": 1}})),
        lambda i: _compact({"payload": {"a": 1}, **event(str(i), at)}),  # payload first
        lambda i: f'{{"id":"{i}","type":"X","payload":{{"a":1}},"payload":{{"a":2}},"created_at":"{at}"}}',
        lambda i: f'{{"id":"{i}","type":"X","payload":{{"a":NaN}},"public":true,"created_at":"{at}"}}',
        lambda i: _compact({**event(str(i), at), "repo": None, "org": None, "actor": None, "public": None}),
        lambda i: _compact(event(str(i), at, payload="just a string")),
        lambda i: _compact(event(str(i), at)).replace('"started"}', '"started",}'),  # trailing comma
        lambda i: _compact(event(str(i), at)).replace('"started"}', '"started","n":-Infinity}'),
        lambda i: _compact(event(str(i), at)).replace('"started"}', '"started","n":nan}'),
        lambda i: _compact(event(str(i), at)).replace('"public":true', '"public":true,'),
        lambda i: _compact(event(str(i), at, payload=[1, "2", None, {"d": {"d": {}}}])),
    ]
    lines = []
    for i in range(count):
        kind = rnd.randrange(3 * len(kinds))
        lines.append(kinds[kind](i) if kind < len(kinds) else _compact(event(str(i), at, payload={"n": i})))
    return lines


def _precise(text: bytes, unit: str, repo_filter: RepoFilter | None) -> tuple[list[dict], UnitCounts]:
    """Every line through the precise path, then repeated ids and the filter dropped in line order."""
    counts = UnitCounts()
    builder = EventBatchBuilder(unit, counts, None)
    lines = text.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    builder.add_lines(lines, 1)
    batch = builder.build(row_by_row=True)
    rows = pa.Table.from_batches([batch]).append_column(LINE_COLUMN, pa.array(builder.built_numbers, pa.int64()))
    finisher = HourFinisher(set(), repo_filter)
    kept = finisher.finish(ParsedBlock(rows, counts))
    return kept.to_pylist(), finisher.counts


def _fast(text: bytes, unit: str, repo_filter: RepoFilter | None, block_bytes: int) -> tuple[list[dict], UnitCounts]:
    parsers = BlockParsers()
    finisher = HourFinisher(set(), repo_filter)
    try:
        blocks = decompressed_blocks(io.BytesIO(gzip.compress(text)), unit, block_bytes)
        tables = [finisher.finish(parsed) for parsed in parsers.parse_unit(unit, blocks)]
    finally:
        parsers.close()
    return pa.concat_tables(tables, promote_options="default").to_pylist(), finisher.counts


def _same(text: bytes, block_bytes: int, repo_filter: RepoFilter | None = None) -> None:
    expected, expected_counts = _precise(text, "u", repo_filter)
    got, counts = _fast(text, "u", repo_filter, block_bytes)
    by_id = lambda rows: sorted(rows, key=lambda r: r["id"])  # noqa: E731
    columns = {name for row in expected for name in row}
    assert by_id([{k: r.get(k) for k in columns} for r in got]) == by_id(expected)
    assert sorted((r.position, r.reason, r.raw) for r in counts.rejects) == sorted(
        (r.position, r.reason, r.raw) for r in expected_counts.rejects
    )
    assert (counts.duplicates, counts.filtered, counts.lines) == (
        expected_counts.duplicates,
        expected_counts.filtered,
        expected_counts.lines,
    )


@pytest.mark.parametrize("block_bytes", [1 << 20, 4096, 700])
def test_fast_path_equals_precise_path_on_awkward_lines(block_bytes: int) -> None:
    text = ("\n".join(_awkward_lines(1500)) + "\n").encode()
    _same(text, block_bytes)


def test_fast_path_equals_precise_path_with_a_repo_filter_and_no_final_newline() -> None:
    lines = [
        _compact(event(str(i), "2024-03-01T10:00:00Z", repo=f"{'octo' if i % 3 else 'other'}/r{i % 5}"))
        for i in range(400)
    ]
    _same("\n".join(lines).encode(), 2048, RepoFilter(repos=["other/r1"], owners=["octo"]))


def test_real_sample_takes_the_fast_path_and_matches() -> None:
    text = gzip.decompress(shared_file("github-events-real-sample.jsonl.gz").read_bytes())
    _same(text, 1 << 20)
    parser = FastParser()
    try:
        parsed = parser.parse(text)
    finally:
        parser.close()
    assert parsed.rows.num_rows > 300  # most real events need no fallback


def test_clean_lines_never_fall_back() -> None:
    lines = [_compact(event(str(i), "2024-03-01T10:00:00Z", payload={"n": i, "s": "a, b: c"})) for i in range(200)]
    parser = FastParser()
    try:
        parsed = parser.parse(("\n".join(lines) + "\n").encode())
    finally:
        parser.close()
    assert parsed.rows.num_rows == 200 and len(parsed.fallback) == 0
