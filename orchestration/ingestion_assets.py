"""Assets of the raw tables, one per ingestion source.

GH Archive is partitioned by hour, the unit of the source; a run over a range of hours
(a backfill) loads the whole range in one step. The oss-directory asset writes the three
``raw.ossd_*`` tables of one directory version.
"""

# No `from __future__ import annotations`: Dagster reads these functions' annotations at run time.
from datetime import timedelta
from pathlib import Path

import dagster as dg
from pydantic import Field

from commonlake.settings import BigQueryMirrorSettings, Settings
from orchestration.resources import Lakehouse

GHARCHIVE_KEY = dg.AssetKey(["raw", "github_events"])
OSSD_KEYS = [dg.AssetKey(["raw", name]) for name in ("ossd_projects", "ossd_collections", "ossd_artifacts")]
PARTITION_FORMAT = "%Y-%m-%d-%H:%M"


def gharchive_partitions(settings: Settings) -> dg.HourlyPartitionsDefinition:
    """One partition per GH Archive hour file, from the configured first hour."""
    return dg.HourlyPartitionsDefinition(
        start_date=settings.orchestration.gharchive_start, fmt=PARTITION_FORMAT, timezone="UTC"
    )


class GhArchiveLoadConfig(dg.Config):
    """Run options of the GH Archive load."""

    force: bool = Field(default=False, description="Reload hours already loaded (their rows are replaced).")


class OssdLoadConfig(dg.Config):
    """Run options of the oss-directory load."""

    force: bool = Field(default=False, description="Reload the version even when it is the current one.")
    version: str | None = Field(default=None, description="Version stamp (default: a digest of the content).")


def _summary_metadata(summary) -> dict[str, dg.MetadataValue]:
    return {
        "rows": dg.MetadataValue.int(summary.rows),
        "units_loaded": dg.MetadataValue.int(summary.units_loaded),
        "units_skipped": dg.MetadataValue.int(summary.units_skipped),
        "rejects": dg.MetadataValue.int(summary.rejects),
        "seconds": dg.MetadataValue.float(round(summary.seconds, 3)),
    }


def build_gharchive_asset(settings: Settings) -> dg.AssetsDefinition:
    """``raw/github_events``: hourly partitions of GH Archive."""

    @dg.asset(
        key=GHARCHIVE_KEY,
        partitions_def=gharchive_partitions(settings),
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="ingestion",
        kinds={"iceberg", "python"},
        description="Public GitHub events from GH Archive, one partition per hour file (raw.github_events).",
    )
    def raw_github_events(
        context: dg.AssetExecutionContext, config: GhArchiveLoadConfig, lakehouse: dg.ResourceParam[Lakehouse]
    ) -> dg.MaterializeResult:
        from ingestion.pipelines import load_gharchive
        from ingestion.sources.gharchive import SourceError

        window = context.partition_time_window
        first, last = window.start, window.end - timedelta(hours=1)
        source = lakehouse.settings.orchestration.gharchive_source
        try:
            summary = load_gharchive(lakehouse.catalog(), first, last, source, force=config.force)
        except SourceError as exc:
            raise dg.Failure(description=f"GH Archive load failed: {exc}") from exc
        metadata = _summary_metadata(summary)
        if not summary.ok:
            # What could be loaded is committed (each hour atomically); the step fails so that
            # nothing downstream runs on an incomplete range.
            problems = [f"{unit}: not at the source" for unit in summary.missing_units]
            problems += [f"{unit}: {reason}" for unit, reason in summary.failed_units.items()]
            raise dg.Failure(
                description=f"GH Archive hours not loaded from {source}: " + "; ".join(problems[:20]),
                metadata=metadata,
            )
        return dg.MaterializeResult(metadata=metadata)

    return raw_github_events


def build_ossd_asset(settings: Settings) -> dg.AssetsDefinition:
    """``raw/ossd_*``: one version of the oss-directory."""

    @dg.multi_asset(
        name="raw_ossd",
        specs=[
            dg.AssetSpec(key, group_name="ingestion", kinds={"iceberg", "python"}, description="oss-directory (raw).")
            for key in OSSD_KEYS
        ],
    )
    def raw_ossd(context: dg.AssetExecutionContext, config: OssdLoadConfig, lakehouse: dg.ResourceParam[Lakehouse]):
        from ingestion.pipelines import load_ossd
        from ingestion.sources.gharchive import SourceError

        source = lakehouse.settings.orchestration.ossd_source
        if not source:
            raise dg.Failure(
                description="No oss-directory source: set COMMONLAKE_ORCHESTRATION__OSSD_SOURCE to a checkout of "
                "github.com/opensource-observer/oss-directory or a .tar.gz of it"
            )
        try:
            summary = load_ossd(lakehouse.catalog(), Path(source), config.version, force=config.force)
        except SourceError as exc:
            raise dg.Failure(description=f"oss-directory load failed: {exc}") from exc
        metadata = _summary_metadata(summary)
        for key in OSSD_KEYS:
            written = dg.MetadataValue.int(summary.tables.get(".".join(key.path), 0))
            yield dg.MaterializeResult(asset_key=key, metadata={**metadata, "table_rows_written": written})

    return raw_ossd


class BigQueryLoadConfig(dg.Config):
    """Run options of a BigQuery mirror load."""

    full_refresh: bool = Field(default=False, description="Replace the whole table instead of appending.")


def build_bigquery_mirror_assets(settings: Settings) -> list[dg.AssetsDefinition]:
    """``raw/<target>`` for each configured BigQuery mirror (incremental by its cursor column)."""
    return [
        _bigquery_mirror_asset(index, mirror) for index, mirror in enumerate(settings.orchestration.bigquery_mirrors)
    ]


def _bigquery_mirror_asset(index: int, mirror: BigQueryMirrorSettings) -> dg.AssetsDefinition:
    source_name = mirror.table or "a query"

    @dg.asset(
        key=dg.AssetKey(["raw", mirror.target]),
        group_name="ingestion",
        kinds={"iceberg", "bigquery"},
        description=f"Mirror of BigQuery {source_name} by cursor {mirror.cursor} (raw.{mirror.target}).",
    )
    def bigquery_mirror(
        context: dg.AssetExecutionContext, config: BigQueryLoadConfig, lakehouse: dg.ResourceParam[Lakehouse]
    ) -> dg.MaterializeResult:
        from ingestion.pipelines import load_bigquery
        from ingestion.sources.bigquery import BigQueryMirror, bigquery_source
        from ingestion.sources.gharchive import SourceError

        options = lakehouse.settings.ingestion
        try:
            spec = BigQueryMirror(
                target=mirror.target,
                cursor=mirror.cursor,
                table=mirror.table,
                query=mirror.query,
                staging_dataset=options.bigquery_staging_dataset,
            )
            summary = load_bigquery(
                lakehouse.catalog(), spec, bigquery_source(options), config.full_refresh, options.flush_bytes
            )
        except SourceError as exc:
            raise dg.Failure(description=f"BigQuery mirror raw.{mirror.target} failed: {exc}") from exc
        return dg.MaterializeResult(metadata=_summary_metadata(summary))

    return bigquery_mirror
