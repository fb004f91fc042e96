"""One GH Archive hour file → rows of ``raw.github_events``: the fast path, then the precise path.

Each block of lines goes through :func:`~ingestion.sources.gharchive_fast.parse_block`;
the lines it leaves (malformed, unexpected shapes, new top-level fields, values it cannot
vouch for) go through :class:`~ingestion.sources.gharchive_events.EventBatchBuilder`,
which rejects with reasons and exact line numbers as before. Then both sets of rows, in
line order, lose the events already seen (the first occurrence of an id is kept) and those
the repository filter drops.

Blocks are parsed by a small pool of threads and finished in order by the caller, so that
what runs without the GIL (inflating, Arrow's checks, writing Parquet) overlaps with the
decoding, while memory stays bounded by the few blocks in flight.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion.schemas import UNIT_COLUMN
from ingestion.sources.gharchive_events import EventBatchBuilder, RepoFilter, UnitCounts
from ingestion.sources.gharchive_fast import LINE_COLUMN, parse_block


@dataclass
class ParsedBlock:
    """A block's rows in line order (with LINE_COLUMN), repeated ids included, and its rejects."""

    rows: pa.Table
    counts: UnitCounts


class BlockParsers:
    """A pool of threads parsing blocks."""

    def __init__(self, threads: int = 2, ahead: int = 2) -> None:
        self.ahead = ahead
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="gharchive-parse")

    def parse_unit(self, unit: str, blocks: Iterable[bytes]) -> Iterator[ParsedBlock]:
        """The parsed blocks of one unit, in order; at most ``ahead`` blocks are parsed ahead of the caller."""
        pending: deque[Future[ParsedBlock]] = deque()
        first_number = 1
        try:
            for block in blocks:
                pending.append(self._pool.submit(self._parse, unit, block, first_number))
                first_number += block.count(b"\n") + (not block.endswith(b"\n"))
                while len(pending) > self.ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            for future in pending:
                if not future.cancelled():
                    future.exception()  # wait: the block's memory is freed before the caller goes on

    def _parse(self, unit: str, block: bytes, first_number: int) -> ParsedBlock:
        parsed = parse_block(block)
        counts = UnitCounts(lines=parsed.line_count)
        rows = parsed.rows
        rows = rows.append_column(UNIT_COLUMN, pa.repeat(pa.scalar(unit, pa.large_string()), rows.num_rows))
        if len(parsed.fallback):
            # Repeated ids and the repository filter are left to HourFinisher, which sees all rows in order.
            builder = EventBatchBuilder(unit, counts, None)
            for i, line in zip(parsed.fallback.tolist(), parsed.fallback_lines, strict=True):
                builder.add_lines([line], first_number + i)
            batch = builder.build(row_by_row=True)  # few lines: each checked on its own
            counts.lines = parsed.line_count
            line_index = pa.array(np.asarray(builder.built_numbers, np.int64) - first_number, pa.int64())
            precise = pa.Table.from_batches([batch]).append_column(LINE_COLUMN, line_index)
            rows = pa.concat_tables([rows, precise], promote_options="permissive")  # string and large_string
            rows = rows.take(pc.sort_indices(rows[LINE_COLUMN]))
        return ParsedBlock(rows, counts)

    def close(self) -> None:
        """Stop the threads."""
        self._pool.shutdown(wait=True)


class HourFinisher:
    """Finishes the parsed blocks of one hour file, in order: drops repeated ids and filtered repositories."""

    def __init__(self, seen_ids: set[str], repo_filter: RepoFilter | None = None) -> None:
        self.seen_ids = seen_ids
        self.repo_filter = repo_filter
        self.counts = UnitCounts()

    def finish(self, parsed: ParsedBlock) -> pa.Table:
        """The new rows of a block, ready for ``UnitLoad.write``; its counts and rejects are added up."""
        counts = self.counts
        counts.lines += parsed.counts.lines
        counts.rejects.extend(parsed.counts.rejects)
        counts.duplicates += parsed.counts.duplicates
        counts.filtered += parsed.counts.filtered
        rows = parsed.rows
        keep = self._new_and_kept(rows)
        if keep is not None:
            rows = rows.filter(pa.array(keep))
        counts.rows += rows.num_rows
        return rows.drop_columns([LINE_COLUMN])

    def _new_and_kept(self, rows: pa.Table) -> list[bool] | None:
        """Which rows to keep (None: all): ids not seen before (here or a neighbouring hour) that the filter keeps."""
        ids = rows.column("id").to_pylist()
        seen = self.seen_ids
        if self.repo_filter is None and seen.isdisjoint(ids) and len(set(ids)) == len(ids):
            seen.update(ids)  # the common case: nothing to drop
            return None
        names = rows.column("repo").combine_chunks().field("name").to_pylist() if self.repo_filter else None
        keep = []
        for i, event_id in enumerate(ids):
            if event_id in seen:
                self.counts.duplicates += 1
                keep.append(False)
            elif names is not None and not self.repo_filter.keeps({"name": names[i]}):
                self.counts.filtered += 1
                keep.append(False)
            else:
                seen.add(event_id)
                keep.append(True)
        return keep
