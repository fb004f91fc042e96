"""Typed catalog errors, rendered as the REST spec's ErrorModel in one place.

Clients branch on the ``type`` field (for example PyIceberg raises ``NoSuchTableError``
only for ``NoSuchTableException``), so each error carries the exact type name of the
spec and of the Java reference implementation.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class CatalogError(Exception):
    """Base of every error the catalog reports to a client."""

    status_code: int = 500
    error_type: str = "ServiceFailureException"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequestError(CatalogError):
    status_code = 400
    error_type = "BadRequestException"


class NotAuthorizedError(CatalogError):
    status_code = 401
    error_type = "NotAuthorizedException"


class ForbiddenError(CatalogError):
    status_code = 403
    error_type = "ForbiddenException"


class NoSuchWarehouseError(CatalogError):
    status_code = 404
    error_type = "NoSuchWarehouseException"


class NoSuchNamespaceError(CatalogError):
    status_code = 404
    error_type = "NoSuchNamespaceException"


class NoSuchTableError(CatalogError):
    status_code = 404
    error_type = "NoSuchTableException"


class NoSuchViewError(CatalogError):
    status_code = 404
    error_type = "NoSuchViewException"


class NotFoundError(CatalogError):
    status_code = 404
    error_type = "NotFoundException"


class MethodNotAllowedError(CatalogError):
    status_code = 405
    error_type = "MethodNotAllowedException"


class NotAcceptableError(CatalogError):
    status_code = 406
    error_type = "UnsupportedOperationException"


class AlreadyExistsError(CatalogError):
    status_code = 409
    error_type = "AlreadyExistsException"


class NamespaceNotEmptyError(CatalogError):
    status_code = 409
    error_type = "NamespaceNotEmptyException"


class CommitFailedError(CatalogError):
    """A requirement no longer holds, or another writer won the race: the client may retry."""

    status_code = 409
    error_type = "CommitFailedException"


class RequestTooLargeError(CatalogError):
    status_code = 413
    error_type = "BadRequestException"


class UnprocessableEntityError(CatalogError):
    status_code = 422
    error_type = "UnprocessableEntityException"


class ServiceUnavailableError(CatalogError):
    status_code = 503
    error_type = "ServiceUnavailableException"


class NotImplementedEndpointError(CatalogError):
    status_code = 406
    error_type = "UnsupportedOperationException"


def error_body(status_code: int, error_type: str, message: str) -> dict[str, Any]:
    """The spec's ErrorModel wrapped in IcebergErrorResponse."""
    return {"error": {"message": message, "type": error_type, "code": status_code}}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
        parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
    return "Malformed request: " + "; ".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, including FastAPI's own, as an ErrorModel."""

    @app.exception_handler(CatalogError)
    async def _catalog_error(_: Request, exc: CatalogError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, exc.error_type, exc.message), status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(400, "BadRequestException", _validation_message(exc)), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        error_type = {
            404: "NotFoundException",
            405: "MethodNotAllowedException",
            401: "NotAuthorizedException",
            403: "ForbiddenException",
        }.get(exc.status_code, "BadRequestException" if exc.status_code < 500 else "ServiceFailureException")
        return JSONResponse(
            error_body(exc.status_code, error_type, str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            error_body(500, "ServiceFailureException", f"Internal error: {type(exc).__name__}"), status_code=500
        )
