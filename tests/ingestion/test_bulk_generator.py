"""The benchmark-size generator: deterministic, realistic records, loadable as they are."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from ingestion.synthetic import write_bulk_hours

START = datetime(2025, 9, 6, 23, tzinfo=UTC)  # a Saturday's last hour, then Sunday


def test_bulk_hours_are_deterministic_ordered_and_unique(tmp_path: Path) -> None:
    first = write_bulk_hours(tmp_path / "a", START, 2, 3000, seed=3)
    second = write_bulk_hours(tmp_path / "b", START, 2, 3000, seed=3)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p, _ in first]
    assert digest == [hashlib.sha256(p.read_bytes()).hexdigest() for p, _ in second]
    events = [json.loads(line) for path, _ in first for line in gzip.decompress(path.read_bytes()).splitlines()]
    assert len(events) == sum(count for _, count in first)
    assert len({e["id"] for e in events}) == len(events)
    for path, _ in first:
        stamps = [json.loads(line)["created_at"] for line in gzip.decompress(path.read_bytes()).splitlines()]
        assert stamps == sorted(stamps) and stamps[0].startswith(path.name[:10])
    types = Counter(e["type"] for e in events)
    assert types["PushEvent"] > types["WatchEvent"] > types["ReleaseEvent"] > 0
    owners = Counter(e["repo"]["name"].split("/")[0] for e in events)
    ranked = sorted(owners.values(), reverse=True)
    assert ranked[0] > 5 * ranked[len(ranked) // 2]  # a few very active projects, a long tail
