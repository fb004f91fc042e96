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

from ingestion.sources.gharchive import CorruptUnit, decompressed_blocks
from ingestion.sources.gharchive_events import EventBatchBuilder, RepoFilter, UnitCounts
from ingestion.sources.gharchive_fast import LINE_COLUMN, parse_block
from ingestion.sources.gharchive_unit import BlockParsers, HourFinisher, ParsedBlock
from tests.conftest import shared_file
from tests.ingestion.conftest import event


def _compact(record: object) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def _awkward_lines(count: int, seed: int = 7) -> list[bytes]:
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
        lambda i: _compact(event(str(i), at)).replace('"started"}', '"started","a":1,"a":2}'),  # repeated key
        lambda i: _compact(event(str(i), at, payload={"n": 0})).replace(":0}", ":-0}"),
        lambda i: _compact(event(str(i), at, payload={"n": 123456789012345678, "m": -7})),
        lambda i: _compact(event(str(i), at, payload={"n": 1234567890123456789})),
        lambda i: _compact(event(str(i), at)).replace('"started"', '"st\\u00e9rted"'),  # orjson writes é
        lambda i: _compact(event(str(i), at)).replace('"started"', '"st\\u001barted"'),  # as orjson writes it
        lambda i: _compact(event(str(i), at)).replace('"started"', '"st\\u001Barted"'),
        lambda i: _compact(event(str(i), at)).replace('"started"', '"st\\/arted"'),
        lambda i: _compact(event(str(i), at)).replace('"login":"mona"', '"login":"\\udc00x"'),  # lone surrogate
        lambda i: _compact(event(str(i), at)).replace('"started"', '"\\ud83d\\ude00"'),  # orjson writes the emoji
        lambda i: _compact(event(str(i), at, payload={"s": "\u2028\x7f"})),
        lambda i: _compact(event(str(i), at, actor={"id": 2**63, "login": "x"})),
        lambda i: _compact(event(str(i), at, actor={"id": 2**64 + 1, "login": "x"})),
        lambda i: _compact(event(str(i), at)) + _compact(event(f"{i}b", at)),  # two objects on one line
        lambda i: _compact(event(str(i), at)).replace(',"type"', '\n,"type"'),  # one object on two lines
        lambda i: _compact(event(str(i), at)).replace('"type":', '"type":"A","type":'),  # repeated top-level key
        lambda i: _compact(event(str(i), at)).replace('"login":', '"login":"a","login":'),
        lambda i: _compact(event(str(i), "2024-02-30T10:00:00Z")),  # no such day
        lambda i: _compact(event(str(i), "2024-03-01T10:00:00.5Z")),
        lambda i: " " + _compact(event(str(i), at)),
        lambda i: "\ufeff" + _compact(event(str(i), at)),  # byte order mark
        lambda i: (
            _compact(event(str(i), at, actor={"id": 1, "login": "x", "extra": "XX"}))
            .encode()
            .replace(b"XX", b"\xff\xfe")
        ),  # invalid UTF-8 in a value the fast path skips
        lambda i: _compact(event(str(i), at)).encode().replace(b"started", b"st\xe9rted"),  # invalid UTF-8, payload
    ]
    lines = []
    for i in range(count):
        kind = rnd.randrange(3 * len(kinds))
        line = kinds[kind](i) if kind < len(kinds) else _compact(event(str(i), at, payload={"n": i}))
        lines.append(line if isinstance(line, bytes) else line.encode())
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
    text = b"\n".join(_awkward_lines(3000)) + b"\n"
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
    assert parse_block(text).rows.num_rows > 300  # most real events need no fallback


def test_clean_lines_never_fall_back() -> None:
    lines = [_compact(event(str(i), "2024-03-01T10:00:00Z", payload={"n": i, "s": "a, b: c"})) for i in range(200)]
    parsed = parse_block(("\n".join(lines) + "\n").encode())
    assert parsed.rows.num_rows == 200 and len(parsed.fallback) == 0


def test_payload_keeps_its_source_text_when_canonical_on_both_paths() -> None:
    at = "2024-03-01T10:00:00Z"
    base = _compact(event("1", at))
    lines = [
        base.replace('"started"}', '"started","a":1,"a":2}'),  # repeated key: kept as the source has it
        base.replace('"id":"1"', '"id":"2"').replace('{"action":"started"}', '{ "action" : "st\\u00e9rted" }'),
        base.replace('"id":"1"', '"id":"3"').replace('{"action":"started"}', '{"n":1.50,"m":-0}'),
    ]
    text = ("\n".join(lines) + "\n").encode()
    for rows in (_precise(text, "u", None)[0], _fast(text, "u", None, 1 << 20)[0]):
        payloads = {r["id"]: r["payload"] for r in rows}
        assert payloads == {
            "1": '{"action":"started","a":1,"a":2}',
            "2": '{"action":"stérted"}',  # not canonical: re-serialized as orjson writes it
            "3": '{"n":1.5,"m":0}',
        }
    assert parse_block(text).rows.column(LINE_COLUMN).to_pylist() == [0]  # only the canonical one on the fast path


def test_blocks_of_a_multi_member_file_and_errors_of_a_damaged_one() -> None:
    members = gzip.compress(b'{"a":1}\n{"a":2}\n') + gzip.compress(b'{"a":3}\n{"a":4}')
    blocks = list(decompressed_blocks(io.BytesIO(members), "u", 10))
    assert b"".join(blocks) == b'{"a":1}\n{"a":2}\n{"a":3}\n{"a":4}'
    assert all(block.endswith(b"\n") for block in blocks[:-1])
    whole = gzip.compress(b'{"a":1}\n' * 50_000)
    with pytest.raises(CorruptUnit, match="truncated"):
        list(decompressed_blocks(io.BytesIO(whole[: len(whole) // 2]), "u"))
    damaged = whole[:-8] + bytes(8)  # the CRC and size of the trailer
    with pytest.raises(CorruptUnit, match="corrupt"):
        list(decompressed_blocks(io.BytesIO(damaged), "u"))
