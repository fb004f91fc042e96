"""A record that could not be loaded, kept with its reason in ``raw.rejects``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ingestion.schemas import UNIT_COLUMN

MAX_RAW_CHARS = 2000
MAX_REASON_CHARS = 500


@dataclass
class Reject:
    """Where a bad record was (line number, file path, row index…), why, and its text."""

    position: str
    reason: str
    raw: str | bytes | None
    rejected_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def row(self, source: str, unit: str, key: str) -> dict:
        """The ``raw.rejects`` row of this reject (raw text truncated)."""
        raw = self.raw.decode("utf-8", errors="replace") if isinstance(self.raw, bytes) else self.raw
        return {
            "source": source,
            "unit": unit,
            "position": self.position,
            "reason": self.reason[:MAX_REASON_CHARS],
            "raw": None if raw is None else raw[:MAX_RAW_CHARS],
            "rejected_at": self.rejected_at,
            UNIT_COLUMN: key,
        }
