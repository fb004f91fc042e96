"""Knowing, without loading the project, that prod already runs its current sources.

A scheduled run of an unchanged project needs no plan: SQLMesh's ``run`` processes new
intervals of the snapshots that prod holds in SQLMesh's state, not of the local files. But
to know that nothing changed, SQLMesh must load every model (rendering each one to
validate it) and fingerprint them against prod: about 1.1 s of an 8-9 s daily run at a year
of history, before any model runs. SQLMesh keeps no record of which sources a plan was
made from, so this module keeps one.

After a plan (or a diff that found nothing to plan), the runner records a fingerprint of
everything that defines the models (the project's files, the Python they import, the
SQLMesh and sqlglot versions, the settings that shape the config) together with the id of
the plan prod was then at. A later run whose fingerprint and prod plan id both match
skips loading and diffing: nothing local changed, and nobody else applied a plan to prod
since. Anything else (no record, another checkout, an edited model, a plan applied from
another machine sharing the state) takes the full path, so the record can only make a run
faster, never run stale models.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import version
from pathlib import Path

from commonlake.settings import Settings
from sqlmesh_project.project_config import PROJECT_DIR, UNIT_TESTS, state_dir

RECORD = "deployed-project.json"
SOURCE_SUFFIXES = {".py", ".sql", ".yaml", ".yml", ".csv"}
# The project's models import these packages' modules (parsed SQL cache, settings, attach
# statements): their sources count as the project's.
IMPORTED_PACKAGES = (PROJECT_DIR.parent / "commonlake",)


def _sources() -> list[tuple[str, Path]]:
    """The files that define the models, each with a stable name, in order (the YAML unit tests are not among them)."""
    unit_tests = PROJECT_DIR / Path(UNIT_TESTS).parent
    files = []
    for root in (PROJECT_DIR, *IMPORTED_PACKAGES):
        for path in root.rglob("*"):
            relative = path.relative_to(root)
            hidden = any(part.startswith(".") for part in relative.parts)  # e.g. SQLMesh's own .cache/
            if path.suffix in SOURCE_SUFFIXES and not hidden and unit_tests not in path.parents and path.is_file():
                files.append((f"{root.name}/{relative.as_posix()}", path))
    return sorted(files)


def project_fingerprint(settings: Settings) -> str:
    """A hash of everything that defines the models prod would run for these settings."""
    digest = hashlib.sha256()
    for package in ("sqlmesh", "sqlglot"):
        digest.update(f"{package}=={version(package)}\n".encode())
    # The model settings shape the config (gateway, start, namespaces, variables); the
    # catalog's address and the like do not change what the models are.
    digest.update(settings.models.model_dump_json().encode())
    for name, path in _sources():
        digest.update(f"\n{name}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _record_path(settings: Settings) -> Path:
    return state_dir(settings) / f"{settings.models.gateway}-{RECORD}"


def prod_plan_id(context) -> str | None:
    """The id of the plan prod was last updated by, or None when there is no prod yet."""
    environment = context.state_reader.get_environment("prod")
    return environment.plan_id if environment and environment.finalized_ts else None


def record_deployed(settings: Settings, fingerprint: str, plan_id: str | None) -> None:
    """Record that prod, at ``plan_id``, runs the sources of ``fingerprint``."""
    path = _record_path(settings)
    if plan_id is None:
        path.unlink(missing_ok=True)
        return
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps({"fingerprint": fingerprint, "plan_id": plan_id}))
    temporary.replace(path)  # atomic: a crash leaves the old record or the new one


def is_deployed(settings: Settings, fingerprint: str, plan_id: str | None) -> bool:
    """Whether prod, now at ``plan_id``, was recorded as running the sources of ``fingerprint``."""
    try:
        record = json.loads(_record_path(settings).read_text())
    except (OSError, ValueError):
        return False
    return plan_id is not None and record == {"fingerprint": fingerprint, "plan_id": plan_id}
