"""A guard for request bodies parsed with PyIceberg's models.

Some PyIceberg validators assume well-typed input (for example ``set-properties`` with
``"updates": "text"`` raises AttributeError inside a validator). Pydantic only turns
ValueError/AssertionError into a validation error, so anything else would surface as a
500. Every request model mixes this in, so any malformed body is a 400.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, model_validator


class BadInputIs400(BaseModel):
    """Turn any exception while validating a request body into a validation error (400)."""

    @model_validator(mode="wrap")
    @classmethod
    def _malformed_is_a_validation_error(cls, data: Any, handler: Any) -> Any:
        try:
            return handler(data)
        except (AttributeError, TypeError, KeyError, IndexError) as exc:
            raise ValueError(f"malformed value ({type(exc).__name__}: {exc})") from exc
