"""``POST /v1/oauth/tokens``: OAuth2 client credentials (and token exchange to refresh a token).

Clients send the credentials either as form fields (PyIceberg) or as HTTP Basic auth
with a scope such as ``PRINCIPAL_ROLE:ALL`` (DuckDB). Errors follow RFC 6749's shape
(``{"error": "invalid_client", …}``), which is what the spec's OAuthError is.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs, unquote_plus

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from catalog.auth.authenticator import InvalidClientError
from catalog.auth.tokens import InvalidTokenError
from catalog.context import CatalogContext, get_context

router = APIRouter(tags=["OAuth2 API"])

ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"
TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    return (unquote_plus(client_id), unquote_plus(secret)) if sep else None


@router.post("/v1/oauth/tokens")
async def get_token(request: Request, ctx: CatalogContext = Depends(get_context)) -> JSONResponse:
    """Exchange client credentials (or a still-valid token) for a new access token."""
    if ctx.authenticator is None:
        return _oauth_error(400, "invalid_request", "Authentication is not enabled on this catalog")
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return _oauth_error(400, "invalid_request", "Expected an application/x-www-form-urlencoded body")
    try:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode(), strict_parsing=False).items()}
    except UnicodeDecodeError:
        return _oauth_error(400, "invalid_request", "Form body is not valid UTF-8")
    grant_type = form.get("grant_type")
    signer = ctx.authenticator.signer
    if grant_type == "client_credentials":
        credentials = _basic_credentials(request.headers.get("authorization"))
        if credentials is None and form.get("client_secret"):
            credentials = (form.get("client_id") or "", form["client_secret"])
        if credentials is None:
            return _oauth_error(400, "invalid_request", "Missing client_id and client_secret")
        try:
            # scrypt is deliberately slow: keep it off the event loop.
            token = await run_in_threadpool(ctx.authenticator.issue, *credentials)
        except InvalidClientError as exc:
            return _oauth_error(401, "invalid_client", str(exc))
    elif grant_type == TOKEN_EXCHANGE:
        # Refresh: a still-valid token of ours buys a new one with the same claims.
        subject = form.get("subject_token")
        if not subject:
            return _oauth_error(400, "invalid_request", "Missing subject_token")
        try:
            claims = signer.verify(subject)
        except InvalidTokenError as exc:
            return _oauth_error(401, "invalid_client", f"Invalid subject_token: {exc}")
        token = signer.issue(claims.subject, claims.roles)
    else:
        return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type: {grant_type!r}")
    return JSONResponse(
        {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": signer.ttl_seconds,
            "issued_token_type": ACCESS_TOKEN_TYPE,
        },
        headers={"Cache-Control": "no-store"},
    )
