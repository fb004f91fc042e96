"""oss-directory YAML trees and the real snapshot → raw.ossd_* tables, validated by the JSON schema."""

from __future__ import annotations

import json
import shutil
import tarfile
from collections import Counter
from pathlib import Path

import pytest
import yaml

from ingestion.pipelines import load_ossd, ossd_repo_filter
from ingestion.sources.gharchive import SourceError
from ingestion.sources.ossd import schema_errors
from tests.conftest import RunningCatalog, shared_file
from tests.ingestion.conftest import rows

GOOD = {
    "version": 7,
    "name": "lens",
    "display_name": "Lens",
    "github": [{"url": "https://github.com/lens-org"}, {"url": "https://github.com/solo/lens-app"}],
    "npm": [{"url": "https://www.npmjs.com/package/lens"}],
    "social": {"twitter": [{"url": "https://twitter.com/lens"}]},
    "blockchain": [{"address": "0xabc", "name": "deployer", "networks": ["optimism", "base"], "tags": ["eoa"]}],
}


def write_tree(root: Path, projects: dict[str, object], collections: dict[str, object]) -> Path:
    """An oss-directory checkout: data/projects/<letter>/<name>.yaml and data/collections/<name>.yaml."""
    for name, doc in projects.items():
        path = root / "data" / "projects" / name[0] / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    for name, doc in collections.items():
        path = root / "data" / "collections" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return root


def test_schema_rejects_what_the_directory_forbids() -> None:
    assert schema_errors("project", GOOD) is None
    assert "display_name" in schema_errors("project", {"version": 7, "name": "x"})
    bad_network = {**GOOD, "blockchain": [{"address": "0x1", "networks": ["narnia"], "tags": ["eoa"]}]}
    assert "blockchain/0/networks/0" in schema_errors("project", bad_network)
    assert "github/0/url" in schema_errors("project", {**GOOD, "github": [{"url": "not a url"}]})
    assert "projects" in schema_errors("collection", {"version": 7, "name": "c", "display_name": "C", "projects": []})


def test_tree_loads_valid_files_and_rejects_the_rest(module_catalog: RunningCatalog, ns: str, tmp_path: Path) -> None:
    tree = write_tree(
        tmp_path / "ossd",
        {
            "lens": GOOD,
            "broken": "name: [unclosed",
            "nameless": {"version": 7, "display_name": "No name"},
            "badchain": {**GOOD, "name": "badchain", "blockchain": [{"address": "0x1", "networks": ["x"], "tags": []}]},
            "extra": {**GOOD, "name": "extra", "huggingface": [{"url": "https://huggingface.co/extra"}], "rank": 3},
        },
        {"defi": {"version": 7, "name": "defi", "display_name": "DeFi", "projects": ["lens", "extra"]}},
    )
    summary = load_ossd(module_catalog.catalog, tree, namespace=ns)
    catalog = module_catalog.catalog
    projects = {r["name"]: r for r in rows(catalog, ns, "ossd_projects")}
    assert sorted(projects) == ["extra", "lens"]
    rejects = {r["position"]: r["reason"] for r in rows(catalog, ns, "rejects")}
    assert summary.rejects == 3 and len(rejects) == 3
    assert rejects["data/projects/b/broken.yaml"].startswith("invalid YAML")
    assert "'name' is a required property" in rejects["data/projects/n/nameless.yaml"]
    assert "blockchain/0" in rejects["data/projects/b/badchain.yaml"]
    # New fields became columns; a new list of links also became artifacts of its own type.
    assert sorted(summary.new_columns) == ["ossd_projects.huggingface", "ossd_projects.rank"]
    assert projects["extra"]["rank"] == 3 and projects["lens"]["rank"] is None
    artifacts = rows(catalog, ns, "ossd_artifacts")
    kinds = Counter((a["project_name"], a["artifact_type"]) for a in artifacts)
    assert kinds[("lens", "github")] == 2 and kinds[("lens", "npm")] == 1 and kinds[("lens", "social_twitter")] == 1
    assert kinds[("extra", "huggingface")] == 1
    chain = next(a for a in artifacts if a["artifact_type"] == "blockchain" and a["project_name"] == "lens")
    assert (chain["url"], chain["networks"], chain["tags"], chain["name"]) == (
        "0xabc",
        ["optimism", "base"],
        ["eoa"],
        "deployer",
    )
    collections = rows(catalog, ns, "ossd_collections")
    assert collections[0]["projects"] == ["lens", "extra"]
    version = projects["lens"]["source_version"]
    assert {r["source_version"] for r in artifacts + collections} == {version}
    assert json.loads(projects["lens"]["data"])["npm"] == GOOD["npm"]
    # The directory's repositories as a GH Archive filter.
    keep = ossd_repo_filter(catalog, ns)
    assert keep.keeps({"name": "lens-org/anything"}) and keep.keeps({"name": "solo/lens-app"})
    assert not keep.keeps({"name": "solo/other"})

    # Same content again: nothing to do. Changed content: a new version replaces the old one whole.
    assert load_ossd(catalog, tree, namespace=ns).units_loaded == 0
    shutil.rmtree(tree / "data" / "projects" / "e")
    changed = load_ossd(catalog, tree, namespace=ns)
    assert changed.units_loaded == 3
    assert [r["name"] for r in rows(catalog, ns, "ossd_projects")] == ["lens"]
    assert {r["source_version"] for r in rows(catalog, ns, "ossd_artifacts")} != {version}


def test_real_snapshot_every_file_loads_or_is_rejected(module_catalog: RunningCatalog, ns: str) -> None:
    tarball = shared_file("oss-directory-c174b9a55f3c.tar.gz")
    with tarfile.open(tarball) as tar:
        names = [m.name for m in tar if m.isfile() and m.name.endswith(".yaml")]
    project_files = sum("/projects/" in n for n in names)
    collection_files = sum("/collections/" in n for n in names)
    assert (project_files, collection_files) == (7112, 117)  # 7,113 entries under projects/ with the README

    summary = load_ossd(module_catalog.catalog, tarball, namespace=ns)
    catalog = module_catalog.catalog
    projects = rows(catalog, ns, "ossd_projects")
    rejects = rows(catalog, ns, "rejects")
    assert len(projects) + len(rejects) == project_files  # none lost
    assert len(rows(catalog, ns, "ossd_collections")) == collection_files
    assert all(r["reason"].startswith(("schema:", "invalid YAML")) for r in rejects)
    assert {p["source_version"] for p in projects} == {"c174b9a55f3c"}  # from the tarball's name
    kinds = Counter(a["artifact_type"] for a in rows(catalog, ns, "ossd_artifacts"))
    for kind in ("github", "npm", "pypi", "crates", "go", "open_collective", "defillama", "blockchain", "website"):
        assert kinds[kind] > 0, kind
    assert kinds["social_twitter"] > 0 and kinds["social_farcaster"] > 0
    assert "ossd_projects.token_coingecko_api_id" in summary.new_columns
    # The same snapshot again is recognised by its version without reading it.
    again = load_ossd(catalog, tarball, namespace=ns)
    assert (again.units_loaded, again.units_skipped) == (0, 3)


def test_missing_path_and_empty_tree_fail_clearly(module_catalog: RunningCatalog, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        load_ossd(module_catalog.catalog, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="No oss-directory YAML"):
        load_ossd(module_catalog.catalog, tmp_path / "empty")
