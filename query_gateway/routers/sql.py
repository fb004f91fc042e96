"""``POST /v1/sql``: run one read-only query; JSON, CSV, Arrow IPC or Parquet by ``Accept``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from query_gateway import result_formats
from query_gateway.access import require_client
from query_gateway.errors import ErrorModel
from query_gateway.service import Answer, QueryService

router = APIRouter(tags=["SQL"], dependencies=[Depends(require_client)])


class SqlRequest(BaseModel):
    """A query and, optionally, a row limit below the gateway's."""

    query: str = Field(min_length=1, max_length=100_000, description="One SELECT, WITH or EXPLAIN statement.")
    limit: int | None = Field(default=None, ge=1, description="Return at most this many rows.")


class SqlResponse(BaseModel):
    """The JSON answer (other formats carry the same facts in X-Commonlake-* headers)."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    stats: dict[str, Any]


ERRORS = {
    400: "Malformed request, syntax error or refused statement",
    401: "Unknown or missing API key",
    404: "Unknown table",
    406: "Unsupported Accept",
    408: "Query exceeded the time limit",
    429: "Rate limit exceeded (see Retry-After)",
    500: "The query's worker process died while running it (e.g. out of memory)",
    502: "The catalog gave an unexpected answer",
    503: "The catalog is unreachable, or the query workers are restarting",
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {result_formats.CSV: {}, result_formats.ARROW: {}, result_formats.PARQUET: {}}},
    **{status: {"model": ErrorModel, "description": text} for status, text in ERRORS.items()},
}


@router.post("/v1/sql", response_model=SqlResponse, responses=RESPONSES)
def run_sql(
    body: SqlRequest,
    request: Request,
    format: str | None = Query(default=None, description="json, csv, arrow or parquet (overrides Accept)."),
) -> Response:
    """Run one read-only SELECT/WITH/EXPLAIN statement over the catalog's tables.

    Send ``Cache-Control: no-cache`` to bypass the result cache.
    """
    media_type = result_formats.negotiate(request.headers.get("accept"), format)
    service: QueryService = request.app.state.service
    use_cache = "no-cache" not in request.headers.get("cache-control", "").lower()
    answer = service.answer(body.query, row_limit=body.limit, use_cache=use_cache)
    return render(service, answer, media_type)


def answer_stats(answer: Answer) -> dict[str, Any]:
    """What the query read: per table its snapshot and how many data files pruning left."""
    result = answer.entry.result
    return {
        "cached": answer.cached,
        "elapsed_ms": round(answer.seconds * 1000, 3),
        "engine_ms": round(result.seconds * 1000, 3),
        "tables": {
            name: {
                "snapshot_id": answer.versions.get(name),
                "files_total": scan.files_total,
                "files_scanned": scan.files_scanned,
                "files_in_memory": scan.files_in_memory,
                "row_filter": scan.row_filter,
            }
            for name, scan in result.scans.items()
        },
    }


def _headers(answer: Answer) -> dict[str, str]:
    scans = answer.entry.result.scans
    return {
        "X-Commonlake-Cache": "hit" if answer.cached else "miss",
        "X-Commonlake-Truncated": "true" if answer.truncated else "false",
        "X-Commonlake-Files-Scanned": ", ".join(f"{n}={s.files_scanned}/{s.files_total}" for n, s in scans.items()),
    }


def render(service: QueryService, answer: Answer, media_type: str) -> Response:
    """The answer in ``media_type``; large results are streamed."""
    table = answer.entry.result.table
    headers = _headers(answer)
    if media_type == result_formats.JSON and table.num_rows > result_formats.ROWS_PER_CHUNK:
        chunks = result_formats.json_chunks(table, answer.truncated, answer_stats(answer))
        return StreamingResponse(chunks, media_type=media_type, headers=headers)
    if media_type == result_formats.JSON:
        rows = answer.entry.encoded.get(media_type)
        if rows is None:
            rows = result_formats.json_rows(table)
            service.cache.remember_encoding(answer.entry, media_type, rows)
        body = result_formats.json_body(table, rows, answer.truncated, answer_stats(answer))
        return Response(body, media_type=media_type, headers=headers)
    if media_type == result_formats.JSON_LINES:
        return StreamingResponse(result_formats.json_lines(table), media_type=media_type, headers=headers)
    if media_type == result_formats.CSV:
        headers["Content-Disposition"] = 'attachment; filename="result.csv"'
    return StreamingResponse(result_formats.binary_chunks(table, media_type), media_type=media_type, headers=headers)
