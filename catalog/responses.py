"""The JSON bodies that carry metadata: LoadTableResult, CommitTableResponse, LoadViewResult.

Metadata arrives already serialized (cached by metadata location), so the body is
assembled from bytes instead of being serialized again.
"""

from __future__ import annotations

import json


def metadata_result(location: str | None, metadata_json: bytes, config: dict[str, str] | None) -> bytes:
    """``{"metadata-location", "metadata"[, "config"]}``; ``config=None`` leaves it out (CommitTableResponse)."""
    parts = [b'{"metadata-location":', json.dumps(location).encode(), b',"metadata":', metadata_json]
    if config is not None:
        parts += [b',"config":', json.dumps(config, separators=(",", ":")).encode()]
    parts.append(b"}")
    return b"".join(parts)
