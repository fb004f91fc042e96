"""Mirroring the ``marts.*`` Iceberg tables into a BigQuery dataset.

Each mart is copied from one Iceberg snapshot by a single BigQuery load job with
``WRITE_TRUNCATE``, which replaces the table's rows and schema atomically: readers see
the previous mirror or the new one, never a mix. The snapshot (and the table's uuid) is
then written to the BigQuery table's labels; a re-run finds them equal and does nothing.
The labels are written after the data, so a crash in between makes the next run load
again rather than skip a load that did not happen.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
from pyiceberg.catalog import Catalog
from pyiceberg.exceptions import NoSuchNamespaceError
from pyiceberg.table import Table

from commonlake.settings import ExportSettings
from operations.bigquery_schema import bigquery_arrow, bigquery_schema

if TYPE_CHECKING:
    from google.cloud import bigquery

SNAPSHOT_LABEL = "commonlake_snapshot_id"
UUID_LABEL = "commonlake_table_uuid"
BIGQUERY_SCOPE = "https://www.googleapis.com/auth/bigquery"


class BigQueryExportError(RuntimeError):
    """The mirror cannot be made; the message says why and what to do."""


@dataclass
class MirroredTable:
    """One mart and its BigQuery mirror."""

    source: str
    destination: str
    snapshot_id: int | None
    rows: int
    loaded: bool  # False: the mirror already held this snapshot


def bigquery_client(settings: ExportSettings) -> bigquery.Client:
    """A BigQuery client for the export settings, or a :class:`BigQueryExportError` saying what is missing."""
    import google.auth
    from google.api_core.client_options import ClientOptions
    from google.auth.exceptions import DefaultCredentialsError
    from google.cloud import bigquery

    project = settings.bigquery_project
    if settings.bigquery_anonymous:
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    elif settings.bigquery_credentials_file is not None:
        from google.oauth2 import service_account

        path = settings.bigquery_credentials_file.expanduser()
        if not path.is_file():
            raise BigQueryExportError(
                f"BigQuery credentials file {path} does not exist: point COMMONLAKE_EXPORT__BIGQUERY_CREDENTIALS_FILE "
                "at a service-account JSON key"
            )
        try:
            credentials = service_account.Credentials.from_service_account_file(str(path), scopes=[BIGQUERY_SCOPE])
        except (ValueError, KeyError) as exc:
            raise BigQueryExportError(
                f"BigQuery credentials file {path} is not a service-account JSON key ({type(exc).__name__})"
            ) from None
        project = project or credentials.project_id
    else:
        try:
            credentials, default_project = google.auth.default(scopes=[BIGQUERY_SCOPE])
        except DefaultCredentialsError:
            raise BigQueryExportError(
                "No Google Cloud credentials found for the BigQuery export. Set "
                "COMMONLAKE_EXPORT__BIGQUERY_CREDENTIALS_FILE to a service-account JSON key, or run "
                "`gcloud auth application-default login` (for an emulator: COMMONLAKE_EXPORT__BIGQUERY_ANONYMOUS=true)"
            ) from None
        project = project or default_project
    if not project:
        raise BigQueryExportError("No BigQuery project: set COMMONLAKE_EXPORT__BIGQUERY_PROJECT")
    options = ClientOptions(api_endpoint=settings.bigquery_api_endpoint) if settings.bigquery_api_endpoint else None
    return bigquery.Client(project=project, credentials=credentials, client_options=options)


def ensure_dataset(client: bigquery.Client, dataset: str, location: str | None, create: bool) -> str:
    """The dataset's full id (``project.dataset``); it must exist unless ``create``."""
    from google.api_core.exceptions import NotFound
    from google.cloud import bigquery

    reference = bigquery.DatasetReference.from_string(dataset, default_project=client.project)
    full_id = f"{reference.project}.{reference.dataset_id}"
    try:
        client.get_dataset(reference)
    except NotFound:
        if not create:
            raise BigQueryExportError(
                f"BigQuery dataset {full_id} does not exist. Create it (`bq mk --dataset {reference.project}:"
                f"{reference.dataset_id}`) or run the export with --create-dataset"
            ) from None
        new = bigquery.Dataset(reference)
        if location:
            new.location = location
        client.create_dataset(new, exists_ok=True)
    return full_id


def mart_tables(catalog: Catalog, namespace: str, names: Iterable[str] = ()) -> list[Table]:
    """The Iceberg tables to mirror: the named ones, or every table of the marts namespace."""
    wanted = list(names)
    if not wanted:
        try:
            wanted = [identifier[-1] for identifier in catalog.list_tables(namespace)]
        except NoSuchNamespaceError:
            wanted = []
    return [catalog.load_table((namespace, name)) for name in sorted(wanted)]


def _labels_match(client: bigquery.Client, destination: str, table: Table, snapshot_id: int | None) -> bool:
    from google.api_core.exceptions import NotFound

    try:
        existing = client.get_table(destination)
    except NotFound:
        return False
    labels = existing.labels or {}
    return labels.get(SNAPSHOT_LABEL) == str(snapshot_id) and labels.get(UUID_LABEL) == str(table.metadata.table_uuid)


def mirror_table(client: bigquery.Client, table: Table, dataset_id: str) -> MirroredTable:
    """Make ``<dataset>.<table>`` hold exactly the rows of the table's current snapshot."""
    from google.cloud import bigquery

    table.refresh()
    source = ".".join(table.name()[-2:])
    destination = f"{dataset_id}.{table.name()[-1]}"
    snapshot = table.current_snapshot()
    snapshot_id = snapshot.snapshot_id if snapshot else None
    if _labels_match(client, destination, table, snapshot_id):
        return MirroredTable(source, destination, snapshot_id, client.get_table(destination).num_rows or 0, False)

    schema = table.schema()
    bq_schema = bigquery_schema(schema)
    rows = 0
    with tempfile.TemporaryFile() as spool:
        # Stream the snapshot to Parquet in batches so memory stays bounded for large marts.
        writer: pq.ParquetWriter | None = None
        scan = table.scan(snapshot_id=snapshot_id) if snapshot_id is not None else None
        batches = scan.to_arrow_batch_reader() if scan is not None else iter(())
        for batch in batches:
            data = bigquery_arrow(batch, schema)
            if writer is None:
                writer = pq.ParquetWriter(spool, data.schema, use_compliant_nested_type=True)
            writer.write_table(data)
            rows += data.num_rows
        if writer is None:
            empty = bigquery_arrow(schema.as_arrow().empty_table(), schema)
            writer = pq.ParquetWriter(spool, empty.schema, use_compliant_nested_type=True)
            writer.write_table(empty)
        writer.close()
        spool.seek(0)
        parquet_options = bigquery.ParquetOptions()
        parquet_options.enable_list_inference = True  # LIST columns load as REPEATED, not RECORD<list<element>>
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            schema=bq_schema,
            parquet_options=parquet_options,
            destination_table_description=f"Mirror of Iceberg table {source} (snapshot {snapshot_id}), by Commonlake",
        )
        client.load_table_from_file(spool, destination, job_config=config).result()
    mirrored = client.get_table(destination)
    mirrored.labels = {
        **(mirrored.labels or {}),
        SNAPSHOT_LABEL: str(snapshot_id),
        UUID_LABEL: str(table.metadata.table_uuid),
    }
    client.update_table(mirrored, ["labels"])
    return MirroredTable(source, destination, snapshot_id, rows, True)


def export_marts(
    catalog: Catalog,
    settings: ExportSettings,
    marts_namespace: str,
    dataset: str | None = None,
    tables: Iterable[str] = (),
    create_dataset: bool = False,
    client: bigquery.Client | None = None,
) -> list[MirroredTable]:
    """Mirror every ``marts.*`` table (or the named ones) into the BigQuery dataset."""
    dataset = dataset or settings.bigquery_dataset
    if not dataset:
        raise BigQueryExportError("No BigQuery dataset: pass --dataset or set COMMONLAKE_EXPORT__BIGQUERY_DATASET")
    client = client or bigquery_client(settings)
    dataset_id = ensure_dataset(client, dataset, settings.bigquery_location, create_dataset)
    return [mirror_table(client, table, dataset_id) for table in mart_tables(catalog, marts_namespace, tables)]
