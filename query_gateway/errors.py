"""The one error type of the gateway: a message for the client and the HTTP status it maps to."""

from __future__ import annotations

from pydantic import BaseModel


class QueryError(Exception):
    """A request the gateway refuses or cannot answer; ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers = headers or {}

    def __reduce__(self):  # keep status when the error crosses from a worker process
        return (QueryError, (self.message, self.status, self.headers))


class ErrorModel(BaseModel):
    """The body of every error answer."""

    error: str
