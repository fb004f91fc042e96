"""A deterministic, realistic sample of the open-source commons.

For a seed it writes the same bytes every time:

* an oss-directory tree (``data/projects/<letter>/<name>.yaml``, ``data/collections/*.yaml``)
  in the real directory's schema (version 7), with GitHub orgs and repos, npm/pypi/crates
  packages and blockchain addresses;
* GH Archive hourly files (``YYYY-MM-DD-H.json.gz``) of events for those repositories.

Activity follows the shapes seen in GH Archive: a few very active projects and a long
tail (Zipf), core maintainers and drive-by contributors, bots, a daily cycle and quieter
weekends. Issues and pull requests are threads: opened, answered, then closed or merged
hours or days later, so time-to-first-response and time-to-merge are meaningful. PushEvents
after 2025-10-07 have GitHub's trimmed payload (head SHA only, no commit list).
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path

import orjson
import yaml

PUSH_TRIM_DATE = datetime(2025, 10, 7, tzinfo=UTC)
BOTS = ("dependabot[bot]", "github-actions[bot]", "renovate[bot]")
WORDS = (
    "chain",
    "lens",
    "flux",
    "spark",
    "nova",
    "orbit",
    "forge",
    "pulse",
    "relay",
    "vault",
    "prism",
    "quill",
    "ember",
    "atlas",
    "cobalt",
    "delta",
    "harbor",
    "lumen",
    "mosaic",
    "nimbus",
    "onyx",
    "pixel",
    "quartz",
    "raven",
    "sable",
    "tidal",
    "umbra",
    "vertex",
    "willow",
    "zephyr",
)
NETWORKS = ("optimism", "mainnet", "base", "arbitrum_one", "mode", "zora")


@dataclass(frozen=True)
class SampleSpec:
    """What to generate."""

    seed: int = 42
    projects: int = 24
    collections: int = 3
    start: date = date(2025, 9, 1)
    days: int = 7
    events_per_hour: float = 90.0  # mean over the whole population, before daily/weekly cycles
    developers: int = 600
    stargazers: int = 5000


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    weight: float
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class Project:
    name: str
    display_name: str
    org: str
    org_id: int
    repos: list[Repo]
    weight: float
    core: list[int]  # developer indexes of maintainers
    repo_cum_weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.repo_cum_weights = list(accumulate(r.weight for r in self.repos))


@dataclass
class SampleManifest:
    """Where the sample was written and what it holds."""

    root: Path
    ossd_dir: Path
    gharchive_dir: Path
    start: datetime
    end: datetime  # last hour, inclusive
    events: int = 0
    files: list[Path] = field(default_factory=list)


def _zipf_weights(n: int, s: float, rng: random.Random) -> list[float]:
    weights = [1.0 / (rank**s) for rank in range(1, n + 1)]
    rng.shuffle(weights)
    return weights


def _sha(rng: random.Random) -> str:
    return f"{rng.getrandbits(160):040x}"


class SampleGenerator:
    """Builds the directory and streams the events of a :class:`SampleSpec`."""

    def __init__(self, spec: SampleSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.developers = [self._developer(i) for i in range(spec.developers)]
        # Cumulative weights, computed once: random.choices would otherwise sum them on every
        # call (O(developers) per event), and it draws the same values either way.
        self.dev_population = range(spec.developers)
        self.dev_cum_weights = list(accumulate(1.0 / ((i + 1) ** 1.1) for i in range(spec.developers)))
        self.projects = self._projects()
        self.collections = self._collections()
        self._event_id = 42_000_000_000 + spec.seed * 1_000_000
        self._push_id = 18_000_000_000
        self._scheduled: list[tuple[float, int, dict]] = []
        self._seq = 0

    # ---- the directory -------------------------------------------------------------------
    def _developer(self, i: int) -> dict:
        word = WORDS[i % len(WORDS)]
        login = f"{word}-dev{i}"
        return {"id": 1_000_000 + i * 37, "login": login, "name": f"{word.title()} Dev {i}"}

    def _projects(self) -> list[Project]:
        rng = self.rng
        weights = _zipf_weights(self.spec.projects, 1.1, rng)
        projects = []
        used: set[str] = set()
        for i in range(self.spec.projects):
            base = f"{WORDS[i % len(WORDS)]}-{WORDS[(i * 7 + 3) % len(WORDS)]}"
            name = base if base not in used else f"{base}-{i}"
            used.add(name)
            org = f"{name}-org"
            repo_count = 1 + min(5, int(rng.expovariate(0.6)))
            repo_weights = _zipf_weights(repo_count, 1.3, rng)
            repos = [
                Repo(id=500_000 + i * 100 + r, owner=org, name=f"{WORDS[(i + r * 5) % len(WORDS)]}-{r}", weight=w)
                for r, w in enumerate(repo_weights)
            ]
            core_size = 2 + int(weights[i] * 12)
            core = rng.sample(range(self.spec.developers), k=min(core_size, self.spec.developers))
            projects.append(
                Project(
                    name=name,
                    display_name=name.replace("-", " ").title(),
                    org=org,
                    org_id=900_000 + i,
                    repos=repos,
                    weight=weights[i],
                    core=core,
                )
            )
        return projects

    def _collections(self) -> list[dict]:
        rng = self.rng
        names = [p.name for p in self.projects]
        collections = []
        for c in range(self.spec.collections):
            members = sorted(rng.sample(names, k=max(2, len(names) // 2)))
            collections.append(
                {
                    "version": 7,
                    "name": f"{WORDS[(c * 3 + 1) % len(WORDS)]}-ecosystem",
                    "display_name": f"{WORDS[(c * 3 + 1) % len(WORDS)].title()} Ecosystem",
                    "projects": members,
                }
            )
        return collections

    def project_document(self, project: Project, index: int) -> dict:
        """The oss-directory YAML document of a project."""
        rng = random.Random(self.spec.seed * 7919 + index)
        doc: dict = {
            "version": 7,
            "name": project.name,
            "display_name": project.display_name,
            "description": f"{project.display_name} builds open-source tools for the commons.",
            "websites": [{"url": f"https://{project.name}.example.org"}],
            "social": {"twitter": [{"url": f"https://twitter.com/{project.name.replace('-', '')}"}]},
        }
        # Most projects list their org, some list individual repos.
        if index % 3 == 0:
            doc["github"] = [{"url": f"https://github.com/{r.full_name}"} for r in project.repos]
        else:
            doc["github"] = [{"url": f"https://github.com/{project.org}"}]
        if index % 2 == 0:
            doc["npm"] = [{"url": f"https://www.npmjs.com/package/@{project.name}/core"}]
        if index % 5 == 1:
            doc["pypi"] = [{"url": f"https://pypi.org/project/{project.name}"}]
        if index % 7 == 2:
            doc["crates"] = [{"url": f"https://crates.io/crates/{project.name}"}]
        if index % 4 == 3:
            doc["blockchain"] = [
                {
                    "address": f"0x{rng.getrandbits(160):040x}",
                    "name": f"{project.name} deployer",
                    "networks": sorted(rng.sample(NETWORKS, k=2)),
                    "tags": ["deployer", "eoa"],
                },
                {
                    "address": f"0x{rng.getrandbits(160):040x}",
                    "networks": ["optimism"],
                    "tags": ["contract"],
                },
            ]
        return doc

    def write_directory(self, root: Path) -> Path:
        """Write the oss-directory tree under ``root/data``."""
        data = root / "data"
        for index, project in enumerate(self.projects):
            path = data / "projects" / project.name[0] / f"{project.name}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(self.project_document(project, index), sort_keys=False))
        for collection in self.collections:
            path = data / "collections" / f"{collection['name']}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(collection, sort_keys=False))
        return data

    # ---- events -----------------------------------------------------------------------------
    def _actor(self, dev_index: int | None = None, bot: str | None = None) -> dict:
        if bot is not None:
            bot_id = 49_699_333 + BOTS.index(bot)
            login = bot
        else:
            assert dev_index is not None
            dev = self.developers[dev_index]
            bot_id, login = dev["id"], dev["login"]
        return {
            "id": bot_id,
            "login": login,
            "display_login": login,
            "gravatar_id": "",
            "url": f"https://api.github.com/users/{login}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{bot_id}?",
        }

    def _event(self, kind: str, actor: dict, repo: Repo, project: Project, payload: dict, at: datetime) -> dict:
        self._event_id += 1
        return {
            "id": str(self._event_id),
            "type": kind,
            "actor": actor,
            "repo": {"id": repo.id, "name": repo.full_name, "url": f"https://api.github.com/repos/{repo.full_name}"},
            "payload": payload,
            "public": True,
            "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "org": {
                "id": project.org_id,
                "login": project.org,
                "gravatar_id": "",
                "url": f"https://api.github.com/orgs/{project.org}",
                "avatar_url": f"https://avatars.githubusercontent.com/u/{project.org_id}?",
            },
        }

    def _schedule(self, at: datetime, event: dict) -> None:
        self._seq += 1
        heapq.heappush(self._scheduled, (at.timestamp(), self._seq, event))

    def _contributor(self, project: Project) -> int:
        # 70% of the work by maintainers; the rest by the (Zipf-weighted) crowd.
        if self.rng.random() < 0.7:
            return self.rng.choice(project.core)
        return self.rng.choices(self.dev_population, cum_weights=self.dev_cum_weights)[0]

    def _push(self, project: Project, repo: Repo, at: datetime) -> dict:
        rng = self.rng
        bot = rng.choice(BOTS) if rng.random() < 0.08 else None
        dev = None if bot else self._contributor(project)
        actor = self._actor(dev, bot)
        self._push_id += 1
        head, before = _sha(rng), _sha(rng)
        payload: dict = {"repository_id": repo.id, "push_id": self._push_id, "ref": "refs/heads/main"}
        if at >= PUSH_TRIM_DATE:
            payload.update({"head": head, "before": before})
        else:
            n = 1 + min(19, int(rng.expovariate(0.7)))
            author = (
                {"email": f"{bot}@users.noreply.github.com", "name": bot}
                if bot
                else {"email": f"{actor['login']}@example.com", "name": self.developers[dev]["name"]}  # type: ignore[index]
            )
            commits = []
            for _ in range(n):
                sha = _sha(rng)
                commits.append(
                    {
                        "sha": sha,
                        "author": author,
                        "message": f"{rng.choice(['fix', 'feat', 'chore', 'docs'])}: {rng.choice(WORDS)} update",
                        "distinct": True,
                        "url": f"https://api.github.com/repos/{repo.full_name}/commits/{sha}",
                    }
                )
            commits[-1]["sha"] = head
            payload.update({"size": n, "distinct_size": n, "head": head, "before": before, "commits": commits})
        return self._event("PushEvent", actor, repo, project, payload, at)

    def _issue(self, repo: Repo, number: int, state: str, user: dict, opened: datetime) -> dict:
        return {
            "id": repo.id * 10_000 + number,
            "number": number,
            "title": f"{self.rng.choice(WORDS).title()} does not {self.rng.choice(WORDS)}",
            "state": state,
            "user": {"login": user["login"], "id": user["id"]},
            "created_at": opened.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "html_url": f"https://github.com/{repo.full_name}/issues/{number}",
        }

    def _open_issue(self, project: Project, repo: Repo, at: datetime) -> dict:
        rng = self.rng
        opener = self._actor(rng.choices(self.dev_population, cum_weights=self.dev_cum_weights)[0])
        number = repo.next_number
        repo.next_number += 1
        opened = self._event(
            "IssuesEvent",
            opener,
            repo,
            project,
            {"action": "opened", "issue": self._issue(repo, number, "open", opener, at)},
            at,
        )
        # A maintainer answers after a while (most within a day) and often closes it later.
        reply_at = at + timedelta(hours=rng.lognormvariate(1.5, 1.2))
        maintainer = self._actor(rng.choice(project.core))
        self._schedule(
            reply_at,
            self._event(
                "IssueCommentEvent",
                maintainer,
                repo,
                project,
                {
                    "action": "created",
                    "issue": self._issue(repo, number, "open", opener, at),
                    "comment": {"id": rng.getrandbits(32), "body": "Thanks, looking into it."},
                },
                reply_at,
            ),
        )
        if rng.random() < 0.6:
            close_at = reply_at + timedelta(hours=rng.lognormvariate(2.5, 1.0))
            self._schedule(
                close_at,
                self._event(
                    "IssuesEvent",
                    maintainer,
                    repo,
                    project,
                    {"action": "closed", "issue": self._issue(repo, number, "closed", opener, at)},
                    close_at,
                ),
            )
            if rng.random() < 0.1:
                reopen_at = close_at + timedelta(hours=rng.lognormvariate(2.0, 1.0))
                self._schedule(
                    reopen_at,
                    self._event(
                        "IssuesEvent",
                        opener,
                        repo,
                        project,
                        {"action": "reopened", "issue": self._issue(repo, number, "open", opener, at)},
                        reopen_at,
                    ),
                )
        return opened

    def _pull_request(
        self, repo: Repo, number: int, user: dict, opened: datetime, state: str, merged_at: datetime | None
    ) -> dict:
        pr = {
            "id": repo.id * 100_000 + number,
            "number": number,
            "state": state,
            "title": f"{self.rng.choice(['Add', 'Fix', 'Refactor'])} {self.rng.choice(WORDS)}",
            "user": {"login": user["login"], "id": user["id"]},
            "created_at": opened.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "merged": merged_at is not None,
            "merged_at": merged_at.strftime("%Y-%m-%dT%H:%M:%SZ") if merged_at else None,
            "html_url": f"https://github.com/{repo.full_name}/pull/{number}",
        }
        return pr

    def _open_pr(self, project: Project, repo: Repo, at: datetime) -> dict:
        rng = self.rng
        bot = rng.choice(BOTS[:1] + BOTS[2:]) if rng.random() < 0.15 else None
        author = self._actor(None if bot else self._contributor(project), bot)
        number = repo.next_number
        repo.next_number += 1
        opened = self._event(
            "PullRequestEvent",
            author,
            repo,
            project,
            {
                "action": "opened",
                "number": number,
                "pull_request": self._pull_request(repo, number, author, at, "open", None),
            },
            at,
        )
        reviewer = self._actor(rng.choice(project.core))
        review_at = at + timedelta(hours=rng.lognormvariate(1.8, 1.1))
        self._schedule(
            review_at,
            self._event(
                "PullRequestReviewCommentEvent",
                reviewer,
                repo,
                project,
                {
                    "action": "created",
                    "pull_request": self._pull_request(repo, number, author, at, "open", None),
                    "comment": {"id": rng.getrandbits(32), "body": "Looks good, one nit."},
                },
                review_at,
            ),
        )
        end_at = review_at + timedelta(hours=rng.lognormvariate(2.2, 1.0))
        merged = rng.random() < 0.75
        self._schedule(
            end_at,
            self._event(
                "PullRequestEvent",
                reviewer,
                repo,
                project,
                {
                    "action": "closed",
                    "number": number,
                    "pull_request": self._pull_request(repo, number, author, at, "closed", end_at if merged else None),
                },
                end_at,
            ),
        )
        return opened

    def _one_event(self, project: Project, at: datetime) -> dict:
        rng = self.rng
        repo = rng.choices(project.repos, cum_weights=project.repo_cum_weights)[0]
        roll = rng.random()
        if roll < 0.42:
            return self._push(project, repo, at)
        if roll < 0.60:
            fan = rng.randrange(self.spec.stargazers)
            actor = {**self._actor(0), "id": 70_000_000 + fan, "login": f"fan{fan}", "display_login": f"fan{fan}"}
            return self._event("WatchEvent", actor, repo, project, {"action": "started"}, at)
        if roll < 0.65:
            fan = rng.randrange(self.spec.stargazers)
            actor = {**self._actor(0), "id": 70_000_000 + fan, "login": f"fan{fan}", "display_login": f"fan{fan}"}
            payload = {"forkee": {"id": rng.getrandbits(31), "full_name": f"fan{fan}/{repo.name}", "public": True}}
            return self._event("ForkEvent", actor, repo, project, payload, at)
        if roll < 0.74:
            return self._open_issue(project, repo, at)
        if roll < 0.86:
            return self._open_pr(project, repo, at)
        if roll < 0.93:
            number = max(1, rng.randrange(1, repo.next_number + 1))
            commenter = self._actor(self._contributor(project))
            issue = self._issue(repo, number, "open", commenter, at)
            payload = {"action": "created", "issue": issue, "comment": {"id": rng.getrandbits(32), "body": "+1"}}
            return self._event("IssueCommentEvent", commenter, repo, project, payload, at)
        if roll < 0.95:
            tag = f"v{rng.randrange(0, 5)}.{rng.randrange(0, 20)}.{rng.randrange(0, 10)}"
            payload = {"action": "published", "release": {"id": rng.getrandbits(31), "tag_name": tag, "name": tag}}
            return self._event("ReleaseEvent", self._actor(rng.choice(project.core)), repo, project, payload, at)
        if roll < 0.98:
            payload = {
                "ref": f"feature-{rng.choice(WORDS)}",
                "ref_type": "branch",
                "master_branch": "main",
                "pusher_type": "user",
            }
            return self._event("CreateEvent", self._actor(self._contributor(project)), repo, project, payload, at)
        payload = {"ref": f"feature-{rng.choice(WORDS)}", "ref_type": "branch", "pusher_type": "user"}
        return self._event("DeleteEvent", self._actor(self._contributor(project)), repo, project, payload, at)

    def _rate(self, hour: datetime) -> float:
        daily = 0.55 + 0.45 * math.sin((hour.hour - 9) / 24 * 2 * math.pi)
        weekly = 0.45 if hour.weekday() >= 5 else 1.0
        return self.spec.events_per_hour * daily * weekly / 0.78

    def hours(self) -> list[datetime]:
        """Every hour of the sample."""
        start = datetime(self.spec.start.year, self.spec.start.month, self.spec.start.day, tzinfo=UTC)
        return [start + timedelta(hours=h) for h in range(self.spec.days * 24)]

    def events_by_hour(self) -> Iterator[tuple[datetime, list[dict]]]:
        """For each hour in order, its events sorted by time (as GH Archive files are)."""
        cum_weights = list(accumulate(p.weight for p in self.projects))
        for hour in self.hours():
            n = _poisson(self.rng, self._rate(hour))
            events = []
            for _ in range(n):
                project = self.rng.choices(self.projects, cum_weights=cum_weights)[0]
                at = hour + timedelta(seconds=self.rng.randrange(3600))
                events.append(self._one_event(project, at))
            end = (hour + timedelta(hours=1)).timestamp()
            while self._scheduled and self._scheduled[0][0] < end:
                events.append(heapq.heappop(self._scheduled)[2])
            events.sort(key=lambda e: (e["created_at"], e["id"]))
            yield hour, events


def _poisson(rng: random.Random, lam: float) -> int:
    if lam > 50:  # normal approximation is accurate and much cheaper here
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def generate_sample(root: Path, spec: SampleSpec = SampleSpec()) -> SampleManifest:
    """Write the directory tree and the hourly files of ``spec`` under ``root``.

    Files are written with fixed gzip headers (no name, mtime 0), so the same seed gives
    byte-identical files.
    """
    root.mkdir(parents=True, exist_ok=True)
    generator = SampleGenerator(spec)
    ossd_dir = root / "oss-directory"
    generator.write_directory(ossd_dir)
    gharchive_dir = root / "gharchive"
    gharchive_dir.mkdir(parents=True, exist_ok=True)
    hours = generator.hours()
    manifest = SampleManifest(root, ossd_dir, gharchive_dir, hours[0], hours[-1])
    for hour, events in generator.events_by_hour():
        path = gharchive_dir / f"{hour:%Y-%m-%d}-{hour.hour}.json.gz"
        # orjson writes the same compact JSON as json.dumps(separators=(",", ":")) for this
        # ASCII, float-free content, several times faster.
        body = b"".join(orjson.dumps(e) + b"\n" for e in events)
        with open(path, "wb") as raw, gzip.GzipFile("", "wb", compresslevel=6, fileobj=raw, mtime=0) as gz:
            gz.write(body)
        manifest.events += len(events)
        manifest.files.append(path)
    return manifest


def sample_digest(root: Path) -> str:
    """A digest of every file under ``root`` (path and bytes), for determinism checks."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _event_templates(spec: SampleSpec, count: int) -> list[tuple[bytes, bytes, bytes]]:
    """Realistic events from :class:`SampleGenerator`, cut around their id and created_at values."""
    generator = SampleGenerator(spec)
    templates: list[tuple[bytes, bytes, bytes]] = []
    for _, events in generator.events_by_hour():
        for e in events:
            text = orjson.dumps({**e, "id": "@@ID@@", "created_at": "@@TS@@"})
            head, rest = text.split(b"@@ID@@")
            middle, tail = rest.split(b"@@TS@@")
            templates.append((head, middle, tail))
            if len(templates) >= count:
                return templates
    return templates


def _write_bulk_hour(args: tuple[Path, datetime, int, int, list[tuple[bytes, bytes, bytes]], int]) -> tuple[Path, int]:
    directory, hour, count, seed, templates, first_id = args
    rng = random.Random(seed * 1_000_003 + int(hour.timestamp()) // 3600)
    seconds = sorted(rng.randrange(3600) for _ in range(count))
    stamps = [(hour + timedelta(seconds=s)).strftime("%Y-%m-%dT%H:%M:%SZ").encode() for s in range(3600)]
    picks = [templates[rng.randrange(len(templates))] for _ in range(count)]
    body = b"".join(
        head + str(first_id + i).encode() + middle + stamps[s] + tail + b"\n"
        for i, (s, (head, middle, tail)) in enumerate(zip(seconds, picks, strict=True))
    )
    path = directory / f"{hour:%Y-%m-%d}-{hour.hour}.json.gz"
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", compresslevel=6, fileobj=raw, mtime=0) as gz:
        gz.write(body)
    return path, count


def write_bulk_hours(
    directory: Path,
    start: datetime,
    hours: int,
    events_per_hour: int,
    seed: int = 42,
    workers: int = 2,
) -> list[tuple[Path, int]]:
    """Hour files of benchmark size (tens of millions of events), deterministic for a seed.

    Events are drawn from a pool of realistic events of :class:`SampleGenerator` (the same
    skew of projects, bots, event types and payload sizes) and given fresh ids and times;
    only the hour's volume follows the daily and weekly cycle. About a million events per
    second per worker, where the threaded generator makes tens of thousands.
    """
    from concurrent.futures import ProcessPoolExecutor

    directory.mkdir(parents=True, exist_ok=True)
    pool_spec = SampleSpec(seed=seed, projects=300, days=2, events_per_hour=2500, developers=20_000, start=start.date())
    templates = _event_templates(pool_spec, 20_000)
    tasks = []
    first_id = 30_000_000_000 + seed * 100_000_000
    for h in range(hours):
        hour = start + timedelta(hours=h)
        weekly = 0.8 if hour.weekday() >= 5 else 1.0
        daily = 0.85 + 0.15 * math.sin((hour.hour - 9) / 24 * 2 * math.pi)
        count = int(events_per_hour * weekly * daily / 0.85)  # weekday hours average events_per_hour
        tasks.append((directory, hour, count, seed, templates, first_id))
        first_id += count
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_write_bulk_hour, tasks))
