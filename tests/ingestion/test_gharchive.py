"""GH Archive hour files → raw.github_events through the REST catalog: exactly once, nothing lost."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ingestion.pipelines import load_gharchive
from ingestion.sources.gharchive import SourceError, parse_hour
from ingestion.sources.gharchive_events import RepoFilter
from ingestion.synthetic import PUSH_TRIM_DATE, SampleSpec, generate_sample
from tests.conftest import RunningCatalog, shared_file
from tests.ingestion.conftest import event, rows, write_hour_file

H0 = datetime(2024, 3, 1, 10, tzinfo=UTC)
H1 = datetime(2024, 3, 1, 11, tzinfo=UTC)
H2 = datetime(2024, 3, 1, 12, tzinfo=UTC)


def test_real_sample_every_record_loads_or_is_rejected(module_catalog: RunningCatalog, ns: str, tmp_path: Path) -> None:
    sample = shared_file("github-events-real-sample.jsonl.gz")
    lines = [line for line in gzip.decompress(sample.read_bytes()).split(b"\n") if line.strip()]
    assert len(lines) == 380
    (tmp_path / "gh").mkdir()
    (tmp_path / "gh" / "2026-08-21-18.json.gz").write_bytes(sample.read_bytes())
    hour = parse_hour("2026-08-21-18")
    summary = load_gharchive(module_catalog.catalog, hour, hour, tmp_path / "gh", namespace=ns)

    loaded = rows(module_catalog.catalog, ns, "github_events")
    rejects = rows(module_catalog.catalog, ns, "rejects") if summary.rejects else []
    assert len(loaded) + len(rejects) == 380  # none lost
    assert all(r["reason"] for r in rejects)
    originals = {e["id"]: e for e in map(json.loads, lines)}
    assert {r["id"] for r in loaded} | {json.loads(r["raw"])["id"] for r in rejects} == set(originals)
    assert len(Counter(r["type"] for r in loaded)) == 19
    assert Counter(r["created_at"].year for r in loaded)[2012] == 51
    # Old shapes: repo without id (Gist/Follow/TeamAdd events of 2012), no display_login before 2016.
    no_repo_id = [r for r in loaded if r["repo"] and r["repo"]["id"] is None]
    assert no_repo_id and all(r["created_at"].year <= 2013 for r in no_repo_id)
    assert all(r["actor"]["display_login"] is None for r in loaded if r["created_at"].year <= 2015)
    assert sum(r["org"] is not None for r in loaded) == 130
    # Payloads are the source's JSON, unchanged in content.
    for r in loaded:
        assert json.loads(r["payload"]) == originals[r["id"]]["payload"]
    # The PushEvent quirk: after 2025-10-07 only head/before, no commit list; both shapes load.
    pushes = [(r["created_at"], json.loads(r["payload"])) for r in loaded if r["type"] == "PushEvent"]
    trimmed = [p for at, p in pushes if "commits" not in p]
    assert len(trimmed) == 13 and all(p["head"] and "size" not in p for p in trimmed)
    assert sum("commits" in p for _, p in pushes) == 83
    assert all(at >= PUSH_TRIM_DATE for at, p in pushes if "commits" not in p)


def test_reload_is_skipped_and_force_replaces_without_duplicates(
    module_catalog: RunningCatalog, ns: str, tmp_path: Path
) -> None:
    for hour, ids in ((H0, "abc"), (H1, "def")):
        write_hour_file(
            tmp_path,
            f"{hour:%Y-%m-%d}-{hour.hour}",
            [event(f"{hour.hour}{i}", f"{hour:%Y-%m-%dT%H}:05:00Z") for i in ids],
        )
    catalog = module_catalog.catalog
    first = load_gharchive(catalog, H0, H1, tmp_path, namespace=ns)
    assert (first.units_loaded, first.rows) == (2, 6)
    again = load_gharchive(catalog, H0, H1, tmp_path, namespace=ns)
    assert (again.units_loaded, again.units_skipped, again.rows) == (0, 2, 0)
    # The source changed (an hour was re-published): force replaces exactly that hour.
    write_hour_file(tmp_path, "2024-03-01-11", [event("11x", "2024-03-01T11:06:00Z")])
    forced = load_gharchive(catalog, H1, H1, tmp_path, force=True, namespace=ns)
    assert (forced.units_loaded, forced.rows) == (1, 1)
    ids = sorted(r["id"] for r in rows(catalog, ns, "github_events"))
    assert ids == ["10a", "10b", "10c", "11x"]
    table = catalog.load_table((ns, "github_events"))
    assert table.spec().fields[0].name == "created_at_day"
    units = [json.loads(s.summary.additional_properties["commonlake.units"]) for s in table.snapshots()]
    assert ["2024-03-01-10", "2024-03-01-11"] in units and ["2024-03-01-11"] in units


def test_bad_records_are_rejected_with_reasons_and_the_rest_loads(
    module_catalog: RunningCatalog, ns: str, tmp_path: Path
) -> None:
    long_garbage = "{" + "x" * 5000
    lines: list = [
        event("1", "2024-03-01T10:00:00Z"),
        '{"id": "2", "type": "PushEvent", "created_at": "2024-03-01T10:00:01Z", "payload": {',  # truncated
        "[1, 2, 3]",
        {k: v for k, v in event("3", "2024-03-01T10:00:02Z").items() if k != "id"},
        {**event("4", "2024-03-01T10:00:03Z"), "actor": {"id": "not-a-number", "login": "x"}},
        {**event("5", "2024-03-01T10:00:04Z"), "created_at": "yesterday"},
        "",
        event("6", "2024-03-01T10:00:05Z", payload={"big": 2**70}),  # beyond 64 bits: json, not orjson, reads it
        {**event("7", "2024-03-01T10:00:06Z"), "actor": {"id": "77", "login": "digits"}},  # numeric string id is fine
        long_garbage,
        event("8", "2024-03-01T10:00:07+02:00"),
    ]
    write_hour_file(tmp_path, "2024-03-01-10", lines)
    summary = load_gharchive(module_catalog.catalog, H0, H0, tmp_path, namespace=ns)
    loaded = {r["id"]: r for r in rows(module_catalog.catalog, ns, "github_events")}
    assert sorted(loaded) == ["1", "6", "7", "8"]
    assert json.loads(loaded["6"]["payload"]) == {"big": 2**70}
    assert loaded["7"]["actor"]["id"] == 77
    assert loaded["8"]["created_at"] == datetime(2024, 3, 1, 8, 0, 7, tzinfo=UTC)
    rejects = {r["position"]: r for r in rows(module_catalog.catalog, ns, "rejects")}
    assert summary.rejects == len(rejects) == 6
    assert rejects["line 2"]["reason"].startswith("malformed JSON")
    assert rejects["line 3"]["reason"] == "record is not a JSON object"
    assert rejects["line 4"]["reason"] == "missing id"
    assert "actor.id is not an integer" in rejects["line 5"]["reason"]
    assert "created_at is not a timestamp" in rejects["line 6"]["reason"]
    assert len(rejects["line 10"]["raw"]) == 2000  # raw text kept, truncated
    assert {r["unit"] for r in rejects.values()} == {"2024-03-01-10"}
    assert {r["source"] for r in rejects.values()} == {"gharchive"}

    # Reloading the unit replaces its rejects instead of adding to them.
    load_gharchive(module_catalog.catalog, H0, H0, tmp_path, force=True, namespace=ns)
    assert len(rows(module_catalog.catalog, ns, "rejects")) == 6


def test_duplicate_event_ids_in_a_file_and_across_files_are_kept_once(
    module_catalog: RunningCatalog, ns: str, tmp_path: Path
) -> None:
    write_hour_file(
        tmp_path,
        "2024-03-01-10",
        [event("1", "2024-03-01T10:00:00Z"), event("2", "2024-03-01T10:59:59Z"), event("1", "2024-03-01T10:00:00Z")],
    )
    write_hour_file(tmp_path, "2024-03-01-11", [event("2", "2024-03-01T10:59:59Z"), event("3", "2024-03-01T11:00:01Z")])
    write_hour_file(tmp_path, "2024-03-01-12", [event("3", "2024-03-01T11:00:01Z"), event("4", "2024-03-01T12:00:00Z")])
    catalog = module_catalog.catalog
    # Hour 12 first, then 10-11: the order of loading does not matter.
    first = load_gharchive(catalog, H2, H2, tmp_path, namespace=ns)
    rest = load_gharchive(catalog, H0, H1, tmp_path, namespace=ns)
    ids = Counter(r["id"] for r in rows(catalog, ns, "github_events"))
    assert ids == Counter({"1": 1, "2": 1, "3": 1, "4": 1})
    assert first.duplicates + rest.duplicates == 3
    # A forced reload of the middle hour keeps each event once as well.
    load_gharchive(catalog, H1, H1, tmp_path, force=True, namespace=ns)
    assert Counter(r["id"] for r in rows(catalog, ns, "github_events")) == ids


def test_push_events_after_the_trim_load_with_head_only(
    module_catalog: RunningCatalog, ns: str, tmp_path: Path
) -> None:
    manifest = generate_sample(
        tmp_path, SampleSpec(seed=5, projects=6, days=2, events_per_hour=30, start=date(2025, 10, 6))
    )
    summary = load_gharchive(module_catalog.catalog, manifest.start, manifest.end, manifest.gharchive_dir, namespace=ns)
    assert summary.rows == manifest.events and summary.rejects == 0
    pushes = [r for r in rows(module_catalog.catalog, ns, "github_events") if r["type"] == "PushEvent"]
    before = [json.loads(r["payload"]) for r in pushes if r["created_at"] < PUSH_TRIM_DATE]
    after = [json.loads(r["payload"]) for r in pushes if r["created_at"] >= PUSH_TRIM_DATE]
    assert before and after
    assert all(p["commits"] and p["size"] == len(p["commits"]) for p in before)
    assert all("commits" not in p and "size" not in p and p["head"] for p in after)


def test_a_new_top_level_field_adds_a_column(module_catalog: RunningCatalog, ns: str, tmp_path: Path) -> None:
    write_hour_file(tmp_path, "2024-03-01-10", [event("1", "2024-03-01T10:00:00Z")])
    write_hour_file(tmp_path, "2024-03-01-11", [event("2", "2024-03-01T11:00:00Z", visibility={"level": "public"})])
    catalog = module_catalog.catalog
    load_gharchive(catalog, H0, H0, tmp_path, namespace=ns)
    summary = load_gharchive(catalog, H1, H1, tmp_path, namespace=ns)
    assert summary.new_columns == ["visibility"]
    loaded = {r["id"]: r for r in rows(catalog, ns, "github_events")}
    assert loaded["1"]["visibility"] is None
    assert json.loads(loaded["2"]["visibility"]) == {"level": "public"}


def test_missing_and_corrupt_hours_are_reported_and_retried(
    module_catalog: RunningCatalog, ns: str, tmp_path: Path
) -> None:
    write_hour_file(tmp_path, "2024-03-01-10", [event("1", "2024-03-01T10:00:00Z")])
    good = gzip.compress(
        b"".join(json.dumps(event(str(i), "2024-03-01T12:00:00Z")).encode() + b"\n" for i in range(100, 2000))
    )
    (tmp_path / "2024-03-01-12.json.gz").write_bytes(good[: len(good) // 2])  # truncated download
    catalog = module_catalog.catalog
    summary = load_gharchive(catalog, H0, H2, tmp_path, namespace=ns)
    assert summary.missing_units == ["2024-03-01-11"]
    assert list(summary.failed_units) == ["2024-03-01-12"] and "truncated" in summary.failed_units["2024-03-01-12"]
    assert [r["id"] for r in rows(catalog, ns, "github_events")] == ["1"]  # no part of the corrupt hour
    assert [r["position"] for r in rows(catalog, ns, "rejects")] == ["file"]
    # The file is fixed: the next run loads it whole and clears its reject.
    (tmp_path / "2024-03-01-12.json.gz").write_bytes(good)
    retry = load_gharchive(catalog, H0, H2, tmp_path, namespace=ns)
    assert (retry.units_loaded, retry.units_skipped, retry.rows) == (1, 1, 1900)
    assert rows(catalog, ns, "rejects") == []


def test_repo_filter_keeps_named_repositories_and_owners(
    module_catalog: RunningCatalog, ns: str, tmp_path: Path
) -> None:
    write_hour_file(
        tmp_path,
        "2024-03-01-10",
        [
            event("1", "2024-03-01T10:00:00Z", repo="Kept-Org/anything"),
            event("2", "2024-03-01T10:00:00Z", repo="solo/kept"),
            event("3", "2024-03-01T10:00:00Z", repo="solo/other"),
            event("4", "2024-03-01T10:00:00Z", repo="stranger/repo"),
        ],
    )
    summary = load_gharchive(
        module_catalog.catalog, H0, H0, tmp_path, repo_filter=RepoFilter(["solo/kept"], ["kept-org"]), namespace=ns
    )
    assert sorted(r["id"] for r in rows(module_catalog.catalog, ns, "github_events")) == ["1", "2"]
    assert summary.filtered == 2


def test_a_unit_larger_than_the_buffer_streams_into_several_files(
    module_catalog: RunningCatalog, ns: str, tmp_path: Path
) -> None:
    write_hour_file(
        tmp_path,
        "2024-03-01-10",
        [event(str(i), "2024-03-01T10:00:00Z") for i in range(45_000)],
    )
    summary = load_gharchive(module_catalog.catalog, H0, H0, tmp_path, flush_bytes=1024 * 1024, namespace=ns)
    table = module_catalog.catalog.load_table((ns, "github_events"))
    files = list(table.scan().plan_files())
    assert summary.rows == 45_000 and len(files) >= 3  # written as it streamed, committed once
    assert len(table.snapshots()) == 1


def test_bad_sources_fail_clearly(module_catalog: RunningCatalog, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        load_gharchive(module_catalog.catalog, H0, H1, tmp_path / "nowhere")
    with pytest.raises(SourceError, match="Bad hour range"):
        load_gharchive(module_catalog.catalog, H1, H0, tmp_path)
    with pytest.raises(SourceError, match="Not an hour"):
        parse_hour("2024-13-45")
