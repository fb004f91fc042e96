"""BigQuery mirror: a BigQuery table or query, copied incrementally by a cursor column.

OSO publishes its data as public BigQuery datasets; this copies one table (or the result
of one query) into an Iceberg table. A unit is a cursor window ``(low, high]``: each run
reads the rows whose cursor is above the last mirrored value and at most the source's
current maximum, through ``google-cloud-bigquery`` and the BigQuery Storage Read API
(Arrow record batches, streamed).

A query is first materialized into a table of a staging dataset (``CREATE OR REPLACE
TABLE … AS``), which is then read like any table and dropped. BigQuery also lets the
Storage Read API read a query job's anonymous result table, but the bqemulator serves
only named tables through it, and a named staging table works on both.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from ingestion.sources.gharchive import SourceError

if TYPE_CHECKING:
    from commonlake.settings import IngestionSettings

_QUOTED_TYPES = {"STRING": "", "TIMESTAMP": "TIMESTAMP ", "DATETIME": "DATETIME ", "DATE": "DATE "}
_NUMERIC_TYPES = {"INT64", "INTEGER", "NUMERIC", "BIGNUMERIC", "FLOAT64", "FLOAT"}


@dataclass(frozen=True)
class BigQueryMirror:
    """What to mirror: a table (``project.dataset.table``) or a query, its cursor, the target."""

    target: str  # Iceberg table name in the raw namespace
    cursor: str
    table: str | None = None
    query: str | None = None
    staging_dataset: str | None = None  # ``project.dataset`` for materializing a query

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise SourceError("A BigQuery mirror needs exactly one of a table or a query")
        if self.query is not None and not self.staging_dataset:
            raise SourceError("Mirroring a query needs a staging dataset (project.dataset) to materialize it")

    @property
    def relation(self) -> str:
        """The source as a FROM item."""
        return f"`{self.table}`" if self.table else f"({self.query})"


@dataclass(frozen=True)
class CursorValue:
    """A cursor position: the BigQuery type of the column and the value as text."""

    type: str
    text: str

    def literal(self) -> str:
        """The value as a BigQuery SQL literal (for queries and Storage Read row restrictions)."""
        if self.type in _NUMERIC_TYPES:
            return self.text
        escaped = self.text.replace("\\", "\\\\").replace("'", "\\'")
        return f"{_QUOTED_TYPES.get(self.type, '')}'{escaped}'"

    def to_json(self) -> str:
        """For the table property that remembers the cursor."""
        return json.dumps({"type": self.type, "value": self.text})

    @classmethod
    def from_json(cls, text: str) -> CursorValue:
        """The inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(data["type"], data["value"])

    @classmethod
    def of(cls, bq_type: str, value: Any) -> CursorValue:
        """A cursor from a value the BigQuery client returned."""
        if isinstance(value, datetime):
            text = value.isoformat()
        elif isinstance(value, date | Decimal | int | float):
            text = str(value)
        else:
            text = str(value)
        return cls(bq_type.upper(), text)


class BigQuerySource:
    """Reads windows of a mirror through a BigQuery client and a Storage Read client."""

    def __init__(
        self,
        client: Any,
        read_client: Any,
        max_streams: int = 2,
        timeout: float = 120.0,
        api_endpoint: str | None = None,
    ) -> None:
        self.api_endpoint = api_endpoint
        self.client = client
        self.read_client = read_client
        self.max_streams = max_streams
        self.timeout = timeout  # seconds a query may take, retries included

    def _run(self, sql: str) -> Any:
        from google.cloud.bigquery import DEFAULT_RETRY

        retry = DEFAULT_RETRY.with_deadline(self.timeout).with_delay(initial=0.2, maximum=2.0)
        job = self.client.query(sql, retry=retry, job_retry=None, timeout=self.timeout)
        return job.result(timeout=self.timeout, retry=retry)

    def check_reachable(self) -> None:
        """Fail fast with SourceError when a configured endpoint does not answer at all.

        The client would otherwise retry a refused connection for as long as its retry
        deadline allows.
        """
        if not self.api_endpoint:
            return
        import httpx

        try:
            httpx.get(self.api_endpoint, timeout=10)
        except httpx.HTTPError as exc:
            raise SourceError(f"BigQuery endpoint unreachable: {self.api_endpoint}: {_short(exc)}") from exc

    def max_cursor(self, mirror: BigQueryMirror) -> CursorValue | None:
        """The source's current maximum cursor value (None for an empty source)."""
        sql = f"SELECT MAX(`{mirror.cursor}`) AS high FROM {mirror.relation} AS source"
        try:
            result = self._run(sql)
            rows = list(result)
        except Exception as exc:  # the client raises many kinds: all mean the source cannot be read
            raise SourceError(f"BigQuery source cannot be read: {_short(exc)}") from exc
        schema = result.schema if rows else []
        value = rows[0]["high"] if rows else None
        if value is None:
            return None
        bq_type = schema[0].field_type if schema else "STRING"
        return CursorValue.of(bq_type, value)

    def read_window(
        self, mirror: BigQueryMirror, low: CursorValue | None, high: CursorValue
    ) -> Iterator[pa.RecordBatch]:
        """The rows with ``low < cursor <= high`` as Arrow record batches."""
        condition = f"`{mirror.cursor}` <= {high.literal()}"
        if low is not None:
            condition = f"`{mirror.cursor}` > {low.literal()} AND {condition}"
        if mirror.table is not None:
            yield from self._read_table(mirror.table, condition)
            return
        staging = f"{mirror.staging_dataset}.commonlake_{mirror.target}_{uuid.uuid4().hex[:12]}"
        try:
            self._run(
                f"CREATE OR REPLACE TABLE `{staging}` AS SELECT * FROM {mirror.relation} AS source WHERE {condition}"
            )
        except Exception as exc:
            raise SourceError(f"BigQuery query could not be materialized in {staging}: {_short(exc)}") from exc
        try:
            yield from self._read_table(staging, None)
        finally:
            self.client.delete_table(staging, not_found_ok=True)

    def _read_table(self, table: str, row_restriction: str | None) -> Iterator[pa.RecordBatch]:
        from google.cloud.bigquery_storage_v1 import types

        project, dataset, name = table.split(".")
        options = types.ReadSession.TableReadOptions(row_restriction=row_restriction or "")
        request = types.ReadSession(
            table=f"projects/{project}/datasets/{dataset}/tables/{name}",
            data_format=types.DataFormat.ARROW,
            read_options=options,
        )
        try:
            session = self.read_client.create_read_session(
                parent=f"projects/{project}", read_session=request, max_stream_count=self.max_streams
            )
            if not session.streams:
                return
            # The Storage Read API sends an Arrow IPC schema once and IPC record batches per response.
            schema = pa.ipc.read_schema(pa.py_buffer(session.arrow_schema.serialized_schema))
            for stream in session.streams:
                for response in self.read_client.read_rows(stream.name):
                    serialized = response.arrow_record_batch.serialized_record_batch
                    if serialized:
                        batch = pa.ipc.read_record_batch(pa.py_buffer(serialized), schema)
                        if batch.num_rows:
                            yield batch
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"BigQuery Storage Read of {table} failed: {_short(exc)}") from exc


def arrow_for_iceberg(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Cast the few BigQuery Arrow types Iceberg has no type for (BIGNUMERIC) to text."""
    columns, fields, changed = [], [], False
    for column, field in zip(batch.columns, batch.schema, strict=True):
        if pa.types.is_decimal256(field.type) or (pa.types.is_decimal(field.type) and field.type.precision > 38):
            column, field, changed = column.cast(pa.string()), pa.field(field.name, pa.string()), True
        columns.append(column)
        fields.append(field)
    return pa.RecordBatch.from_arrays(columns, schema=pa.schema(fields)) if changed else batch


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def bigquery_source(settings: IngestionSettings) -> BigQuerySource:
    """A source with a BigQuery client and a Storage Read client configured by ``settings``."""
    from google.api_core.client_options import ClientOptions
    from google.cloud import bigquery
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient

    credentials = None
    if settings.bigquery_anonymous:
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    elif settings.bigquery_credentials_file is not None:
        from google.oauth2 import service_account

        credentials = service_account.Credentials.from_service_account_file(str(settings.bigquery_credentials_file))
    options = ClientOptions(api_endpoint=settings.bigquery_api_endpoint) if settings.bigquery_api_endpoint else None
    try:
        client = bigquery.Client(project=settings.bigquery_project, credentials=credentials, client_options=options)
    except Exception as exc:  # no project or no credentials found
        raise SourceError(f"BigQuery client cannot be created: {_short(exc)}") from exc
    if settings.bigquery_read_endpoint:
        import grpc
        from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport

        # An emulator speaks plain gRPC; Google's endpoint is reached the default (TLS) way.
        channel = grpc.insecure_channel(settings.bigquery_read_endpoint)
        read_client = BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))
    else:
        read_client = BigQueryReadClient(credentials=credentials)
    return BigQuerySource(client, read_client, api_endpoint=settings.bigquery_api_endpoint)
