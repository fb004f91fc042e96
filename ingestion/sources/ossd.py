"""oss-directory: projects and collections as YAML files, from a checkout or a tarball.

A directory version is one unit of load: the projects, collections and project artifacts
tables are each replaced whole by a new version, stamped with that version. Every file is
validated against the oss-directory JSON schema (``ossd_schema/``); a file that is not
valid YAML or does not fit the schema is rejected with the reason. Top-level fields the
schema does not name are kept: they become new columns (and, when they are lists of links,
artifacts of that type).
"""

from __future__ import annotations

import hashlib
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath

import jsonschema
import pyarrow as pa
import yaml
from referencing import Registry, Resource

from ingestion.rejects import Reject
from ingestion.schemas import OSSD_ARTIFACTS, OSSD_COLLECTIONS, OSSD_PROJECTS, UNIT_COLUMN
from ingestion.sources.gharchive import SourceError

URL_LIST_FIELDS = ("websites", "github", "npm", "pypi", "crates", "go", "open_collective", "defillama")
SOCIAL_FIELDS = ("twitter", "telegram", "farcaster", "mirror", "medium", "discord")
ARTIFACT_TYPES = {"websites": "website", **{f: f for f in URL_LIST_FIELDS if f != "websites"}}
SCHEMA_DIR = Path(__file__).with_name("ossd_schema")
_VERSION_IN_NAME = re.compile(r"-([0-9a-f]{7,40})(?:\.tar\.gz|\.tgz|\.tar)?$")
_COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

try:  # the C loader is several times faster on 7,000 files
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _Loader = yaml.SafeLoader


@cache
def validators() -> dict[str, jsonschema.protocols.Validator]:
    """Validators of project and collection files, with the shared definitions registered."""
    resources = []
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry = Registry().with_resources(resources)
    out = {}
    for kind in ("project", "collection"):
        schema = json.loads((SCHEMA_DIR / f"{kind}.json").read_text())
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        out[kind] = cls(schema, registry=registry)
    return out


def schema_errors(kind: str, data: object) -> str | None:
    """Why ``data`` does not fit the schema of ``kind`` (``project``/``collection``), or None."""
    errors = sorted(validators()[kind].iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    reasons = []
    for error in errors[:5]:
        where = "/".join(str(p) for p in error.absolute_path) or "(file)"
        reasons.append(f"{where}: {error.message}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "schema: " + "; ".join(reasons) + more


@dataclass
class DirectorySnapshot:
    """One version of the directory, parsed."""

    version: str
    projects: pa.Table
    collections: pa.Table
    artifacts: pa.Table
    rejects: list[Reject] = field(default_factory=list)
    files: int = 0


def _links(value: list | None) -> list[dict] | None:
    return None if value is None else [{"url": item["url"]} for item in value]


def project_record(data: dict) -> tuple[dict, list[dict]]:
    """A (validated) project file as a row of ``raw.ossd_projects`` and its artifact rows."""
    row = {k: data.get(k) for k in ("name", "display_name", "description", "version")}
    artifacts: list[dict] = []
    for name in URL_LIST_FIELDS:
        row[name] = _links(data.get(name))
        artifacts.extend({"artifact_type": ARTIFACT_TYPES[name], "url": item["url"]} for item in row[name] or [])
    social = data.get("social")
    row["social"] = None
    if social:
        row["social"] = {key: _links(social.get(key)) for key in SOCIAL_FIELDS}
        for key, links in social.items():
            artifacts.extend({"artifact_type": f"social_{key}", "url": item["url"]} for item in links or [])
    row["blockchain"] = None
    if data.get("blockchain") is not None:
        row["blockchain"] = [
            {"address": e["address"], "name": e.get("name"), "networks": e["networks"], "tags": e["tags"]}
            for e in data["blockchain"]
        ]
        artifacts.extend(
            {"artifact_type": "blockchain", "url": e["address"], **{k: e[k] for k in ("name", "networks", "tags")}}
            for e in row["blockchain"]
        )
    return row, artifacts


def _is_link_list(value: object) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, dict) and set(v) == {"url"} and isinstance(v["url"], str) for v in value)
    )


class OssDirectorySource:
    """The oss-directory at a path: a checkout (with ``data/``) or a ``.tar.gz`` of one."""

    def __init__(self, path: str | Path, version: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise SourceError(f"oss-directory path does not exist: {self.path}")
        self._version = version

    def _files(self) -> Iterator[tuple[str, bytes]]:
        """(relative path, content) of every YAML file."""
        if self.path.is_file():
            try:
                with tarfile.open(self.path, "r:*") as tar:
                    for member in tar:
                        if member.isfile() and member.name.endswith((".yaml", ".yml")):
                            handle = tar.extractfile(member)
                            if handle is not None:
                                yield member.name, handle.read()
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise SourceError(f"Not a readable tarball: {self.path}: {exc}") from exc
            return
        for file in sorted(self.path.rglob("*.y*ml")):
            if ".git" not in file.parts:
                yield file.relative_to(self.path).as_posix(), file.read_bytes()

    def declared_version(self) -> str | None:
        """The version the path names: a git checkout's HEAD commit, or ``…-<commit>.tar.gz``."""
        if self._version:
            return self._version
        if self.path.is_dir():
            head = self.path / ".git" / "HEAD"
            if head.is_file():
                ref = head.read_text().strip()
                if ref.startswith("ref: "):
                    ref_file = self.path / ".git" / ref[5:]
                    ref = ref_file.read_text().strip() if ref_file.is_file() else ""
                if re.fullmatch(r"[0-9a-f]{40}", ref):
                    return ref[:12]
            return None
        match = _VERSION_IN_NAME.search(self.path.name)
        return match.group(1) if match else None

    def read(self) -> DirectorySnapshot:
        """Parse and validate every file; the version is given, declared or the content digest."""
        projects: list[dict] = []
        collections: list[dict] = []
        artifacts: list[dict] = []
        rejects: list[Reject] = []
        extra: dict[str, dict[str, list]] = {"projects": {}, "collections": {}}
        digest = hashlib.sha256()
        files = sorted(self._files())
        count = 0
        for rel, content in files:
            parts = PurePosixPath(rel).parts
            kind = "projects" if "projects" in parts else "collections" if "collections" in parts else None
            if kind is None:
                continue
            count += 1
            digest.update(rel.encode() + b"\0" + content)
            try:
                data = yaml.load(content, Loader=_Loader)
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                rejects.append(Reject(rel, f"invalid YAML: {exc}", content))
                continue
            reason = schema_errors(kind[:-1], data)
            if reason is None:
                unknown = sorted(k for k in data if k not in validators()[kind[:-1]].schema["properties"])
                bad = [k for k in unknown if not _COLUMN_NAME.match(k)]
                if bad:
                    reason = f"unexpected field {bad[0]!r} is not a usable column name"
            if reason is not None:
                rejects.append(Reject(rel, reason, content))
                continue
            stored = {"data": json.dumps(data, default=str, ensure_ascii=False), "file_path": rel}
            rows = projects if kind == "projects" else collections
            for key in unknown:
                extra[kind].setdefault(key, [None] * len(rows))
            for key, values in extra[kind].items():
                values.append(data.get(key))
            if kind == "projects":
                row, arts = project_record(data)
                for key in unknown:
                    if _is_link_list(data[key]):
                        arts.extend({"artifact_type": key, "url": item["url"]} for item in data[key])
                projects.append({**row, **stored})
                artifacts.extend({"project_name": row["name"], **a} for a in arts)
            else:
                row = {k: data.get(k) for k in ("name", "display_name", "description", "version", "projects")}
                collections.append({**row, **stored})
        if count == 0:
            raise SourceError(f"No oss-directory YAML files under projects/ or collections/ in {self.path}")
        version = self.declared_version() or digest.hexdigest()[:12]
        stamp = {"source_version": version, UNIT_COLUMN: version}
        return DirectorySnapshot(
            version=version,
            projects=_with_extra(
                pa.Table.from_pylist([{**p, **stamp} for p in projects], OSSD_PROJECTS), extra["projects"]
            ),
            collections=_with_extra(
                pa.Table.from_pylist([{**c, **stamp} for c in collections], OSSD_COLLECTIONS), extra["collections"]
            ),
            artifacts=pa.Table.from_pylist([{**a, **stamp} for a in artifacts], OSSD_ARTIFACTS),
            rejects=rejects,
            files=count,
        )


def _with_extra(table: pa.Table, extra: dict[str, list]) -> pa.Table:
    """Add the fields the schema does not name as columns, typed as Arrow infers them (else JSON text)."""
    for key in sorted(extra):
        values = extra[key]
        try:
            column = pa.array(values)
            if pa.types.is_null(column.type):
                column = column.cast(pa.string())
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            column = pa.array([None if v is None else json.dumps(v, default=str) for v in values], pa.string())
        table = table.append_column(key, column)
    return table
