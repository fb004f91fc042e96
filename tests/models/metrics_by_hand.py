"""Metrics computed in plain Python from the generated GH Archive files and directory.

An independent implementation of a few metrics, for the cross-check against the marts:
it reads the same files ingestion reads, and shares no code with the models.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import yaml


def entity_id(*parts: str) -> str:
    """Lower-hex SHA-256 of the parts joined by '|'."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def is_bot(login: str) -> bool:
    return login.endswith("[bot]") or login.endswith("-bot")


@dataclass
class Directory:
    """Projects (by name) → GitHub orgs and repos they declare; collections → projects."""

    orgs: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    repos: dict[str, set[tuple[str, str]]] = field(default_factory=lambda: defaultdict(set))
    collections: dict[str, set[str]] = field(default_factory=dict)

    def projects_of(self, owner: str, repo: str) -> set[str]:
        return {p for p, orgs in self.orgs.items() if owner in orgs} | {
            p for p, repos in self.repos.items() if (owner, repo) in repos
        }


def read_directory(root: Path) -> Directory:
    directory = Directory()
    for path in (root / "data" / "projects").rglob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        for entry in doc.get("github") or []:
            parts = entry["url"].rstrip("/").split("/")[3:]
            if len(parts) == 1:
                directory.orgs[doc["name"]].add(parts[0].lower())
            else:
                directory.repos[doc["name"]].add((parts[0].lower(), parts[1].lower()))
    for path in (root / "data" / "collections").glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        directory.collections[doc["name"]] = set(doc["projects"])
    return directory


def read_events(files: list[Path], until: date) -> list[dict]:
    """Every event up to the end of ``until``, once per id."""
    seen: dict[str, dict] = {}
    for path in files:
        with gzip.open(path, "rt") as lines:
            for line in lines:
                event = json.loads(line)
                at = datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))
                if at.date() <= until:
                    event["at"] = at
                    seen.setdefault(event["id"], event)
    return list(seen.values())


@dataclass
class HandMetrics:
    commits_by_repo_day: dict[tuple[str, date], float]
    active_developers_by_project_week: dict[tuple[str, date], int]
    stars_by_project: dict[str, float]
    contributors_by_project: dict[str, int]  # over all time, bots excluded
    opened_prs_by_collection: dict[str, float]
    median_hours_to_merge_by_repo: dict[str, float]
    as_of: date


def compute(directory: Directory, events: list[dict]) -> HandMetrics:
    commits: dict[tuple[str, date], float] = defaultdict(float)
    developers: dict[tuple[str, date], set[str]] = defaultdict(set)
    stars: dict[str, float] = defaultdict(float)
    contributors: dict[str, set[str]] = defaultdict(set)
    opened_prs: dict[str, float] = defaultdict(float)
    merge_hours: dict[str, list[float]] = defaultdict(list)
    project_ids = {}
    as_of = date.min
    for event in events:
        owner, _, repo = event["repo"]["name"].lower().partition("/")
        projects = directory.projects_of(owner, repo)
        if not projects:
            continue
        day = event["at"].date()
        as_of = max(as_of, day)
        repo_id = entity_id("GITHUB", owner, repo)
        login = event["actor"]["login"].lower()
        payload = event["payload"]
        kind = event["type"]
        for project in projects:
            project_ids[project] = entity_id("OSS_DIRECTORY", "oso", project)
        action = payload.get("action")
        contributes = kind in ("PushEvent", "PullRequestReviewCommentEvent") or (
            kind in ("IssuesEvent", "PullRequestEvent") and action == "opened"
        )
        if contributes and not is_bot(login):
            for project in projects:
                contributors[project_ids[project]].add(login)
        if kind == "PushEvent":
            commits[(repo_id, day)] += float(payload.get("distinct_size", 1))
            if not is_bot(login):
                week = day - timedelta(days=day.weekday())
                for project in projects:
                    developers[(project_ids[project], week)].add(login)
        elif kind == "WatchEvent":
            for project in projects:
                stars[project_ids[project]] += 1
        elif kind == "PullRequestEvent" and payload.get("action") == "opened":
            for collection, members in directory.collections.items():
                if projects & members:
                    opened_prs[entity_id("OSS_DIRECTORY", "oso", collection)] += 1
        elif kind == "PullRequestEvent" and payload.get("action") == "closed" and payload["pull_request"]["merged"]:
            opened = datetime.fromisoformat(payload["pull_request"]["created_at"].replace("Z", "+00:00"))
            merge_hours[repo_id].append((event["at"] - opened).total_seconds() / 3600)
    return HandMetrics(
        commits_by_repo_day=dict(commits),
        active_developers_by_project_week={k: len(v) for k, v in developers.items()},
        stars_by_project=dict(stars),
        contributors_by_project={k: len(v) for k, v in contributors.items()},
        opened_prs_by_collection=dict(opened_prs),
        median_hours_to_merge_by_repo={k: statistics.median(v) for k, v in merge_hours.items()},
        as_of=as_of,
    )
