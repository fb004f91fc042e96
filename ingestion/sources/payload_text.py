"""The text ``raw.github_events.payload`` keeps: the source's own JSON text when it is canonical.

A payload text is *canonical* when it is exactly what orjson writes for its value: compact,
strings with orjson's escapes (``\\uXXXX`` only for the control characters without a short
form, in lower case), integers of at most 18 digits (orjson reads longer ones as floats or
fails) and no ``-0``, no floats (exponent formats differ). Such a text is kept as it is; any
other payload is re-serialized by orjson. Both parsing paths decide with the same test, so
they agree even where re-serializing would change the content without changing the form
(an object with a repeated key keeps both, as the source has them).
"""

from __future__ import annotations

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Matched against texts known to be valid JSON: it checks the form of each token, not the grammar.
CANONICAL_JSON = (
    r"^(?:[\[\]{}:,]|true|false|null|(?:0|-?[1-9][0-9]{0,17})(?:[,\]}]|$)"
    r'|"(?:[^"\\\x00-\x1f]|\\["\\bfnrt]|\\u00(?:0[0-7bef]|1[0-9a-f]))*")*$'
)


class _PayloadOnly(msgspec.Struct):
    payload: msgspec.Raw = msgspec.Raw(b"null")


_PAYLOAD_DECODER = msgspec.json.Decoder(_PayloadOnly)


def canonical(texts: pa.Array) -> np.ndarray:
    """Which texts (valid JSON, binary or string, none null) are canonical."""
    if len(texts) == 0:
        return np.zeros(0, bool)
    try:
        strings = texts.cast(pa.string())
    except pa.ArrowInvalid:  # invalid UTF-8 somewhere: one by one
        return np.array([_canonical_one(text) for text in texts.to_pylist()], bool)
    return pc.match_substring_regex(strings, CANONICAL_JSON).to_numpy(zero_copy_only=False)


def _canonical_one(text: bytes) -> bool:
    try:
        return bool(canonical(pa.array([text.decode()], pa.string()))[0])
    except UnicodeDecodeError:
        return False


def source_payload(line: bytes) -> bytes | None:
    """The source text of a line's top-level ``payload`` value (the last, if repeated), or None when unsure."""
    try:
        return bytes(_PAYLOAD_DECODER.decode(line).payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def kept_payloads(reserialized: list[bytes | None], sources: list[bytes | None]) -> list[bytes | None]:
    """The payload texts to keep: the source's where it is canonical, else orjson's re-serialization."""
    candidates = [i for i, (text, source) in enumerate(zip(reserialized, sources, strict=True)) if text and source]
    if not candidates:
        return reserialized
    is_canonical = canonical(pa.array([sources[i] for i in candidates], pa.binary()))
    kept = list(reserialized)
    for i in np.asarray(candidates)[is_canonical].tolist():
        kept[i] = sources[i]
    return kept
