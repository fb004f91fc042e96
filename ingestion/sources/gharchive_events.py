"""GH Archive records → ``raw.github_events`` record batches: the precise, per-line path.

It decides what every line becomes (a row, or a reject with its reason). Most lines take
the block-at-a-time fast path of :mod:`ingestion.sources.gharchive_fast` instead, which gives the
same rows and hands every line it cannot vouch for to this path.

Each line is parsed once with orjson; the envelope fields go into column lists and the
payload keeps its source text when that is canonical, else is re-serialized compactly (see
:mod:`ingestion.sources.payload_text`). Arrow then converts whole columns at once. When a
column fails to convert (a value of the wrong type somewhere), the batch is redone row by
row to find and reject exactly the rows at fault, so a bad record never costs its neighbours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import pyarrow as pa

from ingestion.rejects import Reject
from ingestion.schemas import GITHUB_EVENTS, UNIT_COLUMN
from ingestion.sources.payload_text import kept_payloads, source_payload

KNOWN_KEYS = frozenset(GITHUB_EVENTS.names) - {UNIT_COLUMN}
_STRUCTS = {name: GITHUB_EVENTS.field(name).type for name in ("actor", "repo", "org")}
_NEW_COLUMN_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_TIMESTAMP = pa.timestamp("us", tz="UTC")


class BadRecord(ValueError):
    """A record that does not fit ``raw.github_events``; the message is the reason."""


class RepoFilter:
    """Keeps events of named repositories (``owner/name``) or of whole owners (orgs, users)."""

    def __init__(self, repos: Iterable[str] = (), owners: Iterable[str] = ()) -> None:
        self.repos = {r.lower() for r in repos}
        self.owners = {o.lower() for o in owners}

    def keeps(self, repo: object) -> bool:
        """Whether an event's ``repo`` object names a kept repository."""
        if not isinstance(repo, dict):
            return False
        name = repo.get("name")
        if not isinstance(name, str):
            return False
        name = name.lower()
        return name in self.repos or name.split("/", 1)[0] in self.owners

    def __len__(self) -> int:
        return len(self.repos) + len(self.owners)


@dataclass
class UnitCounts:
    """What parsing one unit found besides its rows."""

    lines: int = 0
    rows: int = 0
    duplicates: int = 0
    filtered: int = 0
    rejects: list[Reject] = field(default_factory=list)


class EventBatchBuilder:
    """Accumulates parsed events of one unit as columns and turns them into a record batch.

    ``seen_ids`` are the ids already kept, updated as events are added (None: no
    de-duplication here, the caller does it); ``repo_filter`` drops other repositories.
    """

    def __init__(
        self, unit: str, counts: UnitCounts, seen_ids: set[str] | None, repo_filter: RepoFilter | None = None
    ) -> None:
        self.unit = unit
        self.counts = counts
        self.seen_ids = seen_ids
        self.repo_filter = repo_filter
        self.built_numbers: list[int] = []  # the line number of each row of the last batch built
        self._reset()

    def _reset(self) -> None:
        self.ids: list[str] = []
        self.types: list[str] = []
        self.actors: list[object] = []
        self.repos: list[object] = []
        self.orgs: list[object] = []
        self.payloads: list[bytes | None] = []
        self.source_payloads: list[bytes | None] = []
        self.publics: list[object] = []
        self.created: list[str] = []
        self.lines: list[tuple[int, bytes]] = []
        self.extra: dict[str, dict[int, str]] = {}

    def __len__(self) -> int:
        return len(self.ids)

    def add_lines(self, lines: list[bytes], first_number: int) -> None:
        """Parse lines (numbered from ``first_number``); each becomes a row, a reject, a duplicate or nothing."""
        # The hot loop of ingestion: appends and lookups are bound to locals once per chunk.
        loads, dumps, decode_error = orjson.loads, orjson.dumps, orjson.JSONDecodeError
        seen, repo_filter, known = self.seen_ids, self.repo_filter, KNOWN_KEYS
        dedupe = seen is not None
        ids, types, actors, repos, orgs = self.ids, self.types, self.actors, self.repos, self.orgs
        payloads, publics, created, kept_lines = self.payloads, self.publics, self.created, self.lines
        source_payloads = self.source_payloads
        reject, counts = self._reject, self.counts
        counts.lines += len(lines)
        for number, line in enumerate(lines, first_number):
            try:
                event = loads(line)
            except decode_error as exc:
                event = _lenient_json(line)
                if event is None:
                    if line.strip():
                        reject(number, f"malformed JSON: {exc}", line)
                    continue
            if type(event) is not dict:
                reject(number, "record is not a JSON object", line)
                continue
            event_id = event.get("id")
            event_type = event.get("type")
            created_at = event.get("created_at")
            if type(event_id) is not str:
                if type(event_id) is int:
                    event_id = str(event_id)
                else:
                    reject(number, "missing id" if event_id is None else "id is not a string or integer", line)
                    continue
            if not event_id:
                reject(number, "empty id", line)
                continue
            if type(event_type) is not str or not event_type:
                reject(number, "missing type", line)
                continue
            if type(created_at) is not str:
                reject(number, "missing created_at" if created_at is None else "created_at is not a string", line)
                continue
            if dedupe and event_id in seen:
                counts.duplicates += 1
                continue
            if repo_filter is not None and not repo_filter.keeps(event.get("repo")):
                counts.filtered += 1
                continue
            payload = event.get("payload")
            try:
                payload_text = None if payload is None else dumps(payload)
            except TypeError:  # integers beyond 64 bits
                payload_text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
            if not event.keys() <= known and not self._add_extra(event, number, line):
                continue
            if dedupe:
                seen.add(event_id)
            ids.append(event_id)
            types.append(event_type)
            actors.append(event.get("actor"))
            repos.append(event.get("repo"))
            orgs.append(event.get("org"))
            payloads.append(payload_text)
            source_payloads.append(None if payload_text is None else source_payload(line))
            publics.append(event.get("public"))
            created.append(created_at)
            kept_lines.append((number, line))

    def _add_extra(self, event: dict, number: int, line: bytes) -> bool:
        """Keep top-level fields GH Archive did not have as JSON text in new columns."""
        row = len(self.ids)
        values = {}
        for key in event.keys() - KNOWN_KEYS:
            if not _NEW_COLUMN_NAME.match(key) or key.startswith("_"):
                self._reject(number, f"unexpected top-level field {key!r} is not a usable column name", line)
                return False
            values[key] = orjson.dumps(event[key]).decode()
        for key, text in values.items():
            self.extra.setdefault(key, {})[row] = text
        return True

    def _reject(self, number: int, reason: str, line: bytes) -> None:
        self.counts.rejects.append(Reject(f"line {number}", reason, line))

    def build(self, row_by_row: bool = False) -> pa.RecordBatch:
        """The accumulated rows as one record batch (rows at fault are rejected, not lost).

        ``row_by_row`` checks every row on its own, so that whether a value is accepted
        never depends on its neighbours (Arrow's whole-column conversion truncates a
        float in an integer field where the row-by-row check rejects it).
        """
        self.payloads = kept_payloads(self.payloads, self.source_payloads)
        try:
            if row_by_row:
                raise ValueError("row by row")
            batch = self._arrays()
            self.built_numbers = [number for number, _ in self.lines]
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError):
            batch = self._build_row_by_row()
        self.counts.rows += batch.num_rows
        self._reset()
        return batch

    def _arrays(self) -> pa.RecordBatch:
        n = len(self.ids)
        arrays = [
            pa.array(self.ids, pa.string()),
            pa.array(self.types, pa.string()),
            pa.array(self.actors, _STRUCTS["actor"]),
            pa.array(self.repos, _STRUCTS["repo"]),
            pa.array(self.orgs, _STRUCTS["org"]),
            pa.array(self.payloads, pa.string()),
            pa.array(self.publics, pa.bool_()),
            pa.array(self.created, pa.string()).cast(_TIMESTAMP),
            pa.array([self.unit] * n, pa.string()),
        ]
        fields = list(GITHUB_EVENTS)
        for key in sorted(self.extra):
            values = self.extra[key]
            arrays.append(pa.array([values.get(i) for i in range(n)], pa.string()))
            fields.append(pa.field(key, pa.string()))
        return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))

    def _build_row_by_row(self) -> pa.RecordBatch:
        """Slow path: clean every row, rejecting those whose values do not fit the columns."""
        kept: dict[str, list] = {name: [] for name in GITHUB_EVENTS.names}
        extra_kept: dict[str, list] = {key: [] for key in self.extra}
        self.built_numbers = []
        for i, (number, line) in enumerate(self.lines):
            try:
                row = {
                    "id": self.ids[i],
                    "type": self.types[i],
                    "actor": _clean_struct(self.actors[i], "actor"),
                    "repo": _clean_struct(self.repos[i], "repo"),
                    "org": _clean_struct(self.orgs[i], "org"),
                    "payload": None if self.payloads[i] is None else self.payloads[i].decode(),
                    "public": _clean_bool(self.publics[i]),
                    "created_at": parse_timestamp(self.created[i]),
                    UNIT_COLUMN: self.unit,
                }
            except BadRecord as exc:
                if self.seen_ids is not None:
                    self.seen_ids.discard(self.ids[i])
                self._reject(number, str(exc), line)
                continue
            self.built_numbers.append(number)
            for name, value in row.items():
                kept[name].append(value)
            for key, values in self.extra.items():
                extra_kept[key].append(values.get(i))
        arrays = [pa.array(kept[f.name], f.type) for f in GITHUB_EVENTS]
        fields = list(GITHUB_EVENTS)
        for key in sorted(extra_kept):
            arrays.append(pa.array(extra_kept[key], pa.string()))
            fields.append(pa.field(key, pa.string()))
        return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _lenient_json(line: bytes) -> object | None:
    """The json module's reading of a line orjson refused (it reads integers beyond 64 bits), or None.

    None too for text that is not Unicode: the json module reads a lone surrogate escape
    (``"\\ud800"``) into a string that no column can hold.
    """
    try:
        event = json.loads(line)
        json.dumps(event, ensure_ascii=False).encode()
        return event
    except (ValueError, UnicodeEncodeError):
        return None


def _clean_struct(value: object, name: str) -> dict | None:
    """A struct value as the column expects it, or BadRecord with the reason."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRecord(f"{name} is not an object")
    out: dict = {}
    for sub in _STRUCTS[name]:
        v = value.get(sub.name)
        if v is None:
            out[sub.name] = None
        elif pa.types.is_integer(sub.type):
            if isinstance(v, bool) or not isinstance(v, int | str) or not str(v).lstrip("-").isdigit():
                raise BadRecord(f"{name}.{sub.name} is not an integer: {v!r}"[:200])
            number = int(v)
            if not -(2**63) <= number < 2**63:
                raise BadRecord(f"{name}.{sub.name} does not fit 64 bits")
            out[sub.name] = number
        elif isinstance(v, str):
            out[sub.name] = v
        else:
            raise BadRecord(f"{name}.{sub.name} is not a string: {v!r}"[:200])
    return out


def _clean_bool(value: object) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise BadRecord(f"public is not a boolean: {value!r}"[:200])


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp (``Z`` or an offset; naive means UTC) as UTC, or BadRecord."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise BadRecord(f"created_at is not a timestamp: {value!r}"[:200]) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
