"""The synthetic sample is deterministic for a seed and realistic in shape."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import date
from pathlib import Path

import yaml

from ingestion.synthetic import SampleSpec, generate_sample, sample_digest


def read_events(path: Path) -> list[dict]:
    with gzip.open(path) as stream:
        return [json.loads(line) for line in stream]


SMALL = SampleSpec(seed=7, projects=8, days=2, events_per_hour=40, start=date(2025, 9, 6))


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", SMALL)
    generate_sample(tmp_path / "b", SMALL)
    assert sample_digest(tmp_path / "a") == sample_digest(tmp_path / "b")


def test_other_seed_gives_other_sample(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", SMALL)
    generate_sample(tmp_path / "b", SampleSpec(**{**SMALL.__dict__, "seed": 8}))
    assert sample_digest(tmp_path / "a") != sample_digest(tmp_path / "b")


def test_directory_and_events_are_consistent(tmp_path: Path) -> None:
    manifest = generate_sample(tmp_path, SMALL)
    projects = [yaml.safe_load(p.read_text()) for p in (manifest.ossd_dir / "data" / "projects").rglob("*.yaml")]
    assert len(projects) == SMALL.projects
    assert all(p["version"] == 7 and p["name"] and p["display_name"] for p in projects)
    owners = {u["url"].split("/")[3] for p in projects for u in p["github"]}

    assert len(manifest.files) == SMALL.days * 24
    assert [f.name for f in manifest.files[:2]] == ["2025-09-06-0.json.gz", "2025-09-06-1.json.gz"]
    events = [e for f in manifest.files for e in read_events(f)]
    assert len(events) == manifest.events > 0
    assert len({e["id"] for e in events}) == len(events)
    assert {e["repo"]["name"].split("/")[0] for e in events} <= owners
    types = Counter(e["type"] for e in events)
    for kind in ("PushEvent", "WatchEvent", "IssuesEvent", "PullRequestEvent", "IssueCommentEvent"):
        assert types[kind] > 0, kind
    pushes = [e for e in events if e["type"] == "PushEvent"]
    assert all(e["payload"]["commits"] for e in pushes)  # before the 2025-10-07 trim
    # Within each file events are in time order, as in GH Archive.
    for f in manifest.files:
        stamps = [e["created_at"] for e in read_events(f)]
        assert stamps == sorted(stamps)


def test_pushes_after_october_2025_are_trimmed(tmp_path: Path) -> None:
    manifest = generate_sample(tmp_path, SampleSpec(seed=1, projects=4, days=1, start=date(2025, 10, 8)))
    pushes = [e for f in manifest.files for e in read_events(f) if e["type"] == "PushEvent"]
    assert pushes
    assert all("commits" not in p["payload"] and p["payload"]["head"] for p in pushes)


def test_activity_is_skewed_and_weekends_are_quieter(tmp_path: Path) -> None:
    spec = SampleSpec(seed=3, projects=20, days=7, start=date(2025, 9, 1))
    manifest = generate_sample(tmp_path, spec)
    per_repo_owner: Counter[str] = Counter()
    per_day: Counter[int] = Counter()
    for f in manifest.files:
        for event in read_events(f):
            per_repo_owner[event["repo"]["name"].split("/")[0]] += 1
            per_day[int(event["created_at"][8:10])] += 1
    counts = sorted(per_repo_owner.values(), reverse=True)
    assert counts[0] > 5 * counts[len(counts) // 2]  # a few very active projects, a long tail
    weekday = sum(per_day[d] for d in range(1, 6)) / 5
    weekend = (per_day[6] + per_day[7]) / 2
    assert weekend < 0.7 * weekday
