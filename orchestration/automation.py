"""When things run: the daily pipeline schedule, the new-hour sensor, the maintenance schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import httpx

from commonlake.settings import Settings
from orchestration.ingestion_assets import PARTITION_FORMAT

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
HEAD_TIMEOUT_SECONDS = 10.0


def hour_partition_key(hour: datetime) -> str:
    """The partition key of an hour."""
    return hour.strftime(PARTITION_FORMAT)


def hour_available(location: str, hour: datetime) -> bool:
    """Whether the source has the hour's file: a HEAD request (HTTP) or a file test (directory).

    Raises httpx.HTTPError when an HTTP source does not answer.
    """
    from ingestion.sources.gharchive import hour_unit

    name = f"{hour_unit(hour)}.json.gz"
    if not location.startswith(("http://", "https://")):
        return (Path(location) / name).is_file()
    response = httpx.head(f"{location.rstrip('/')}/{name}", timeout=HEAD_TIMEOUT_SECONDS, follow_redirects=True)
    return response.status_code == 200


def previous_day_range(scheduled: datetime) -> tuple[str, str]:
    """Partition keys of the first and last hour of the UTC day before ``scheduled``."""
    day = scheduled.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    return hour_partition_key(day), hour_partition_key(day + timedelta(hours=23))


def build_daily_schedule(settings: Settings, pipeline_job: UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    """Every day: load the previous day's GH Archive hours (skipping loaded ones), then everything downstream."""
    first_hour = datetime.strptime(settings.orchestration.gharchive_start, PARTITION_FORMAT).replace(tzinfo=UTC)

    @dg.schedule(
        name="daily_pipeline",
        cron_schedule=settings.orchestration.daily_cron,
        job=pipeline_job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Ingest yesterday's GH Archive hours and the oss-directory, run the models, publish.",
    )
    def daily_pipeline(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        start, end = previous_day_range(context.scheduled_execution_time or datetime.now(UTC))
        if datetime.strptime(end, PARTITION_FORMAT).replace(tzinfo=UTC) < first_hour:
            return dg.SkipReason(f"yesterday is before the first GH Archive hour {hour_partition_key(first_hour)}")
        return dg.RunRequest(run_key=f"daily-{start}", tags={RANGE_START_TAG: start, RANGE_END_TAG: end})

    return daily_pipeline


def build_new_hour_sensor(settings: Settings, gharchive_job: UnresolvedAssetJobDefinition) -> dg.SensorDefinition:
    """Request a GH Archive load for each hour that has appeared at the source since the last one requested."""
    options = settings.orchestration
    first_hour = datetime.strptime(options.gharchive_start, PARTITION_FORMAT).replace(tzinfo=UTC)

    @dg.sensor(
        name="new_gharchive_hours",
        job=gharchive_job,
        minimum_interval_seconds=options.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="HEADs the next hour files at the GH Archive source and starts a load for each that exists.",
    )
    def new_gharchive_hours(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        if context.cursor:
            next_hour = datetime.strptime(context.cursor, PARTITION_FORMAT).replace(tzinfo=UTC) + timedelta(hours=1)
        else:  # first tick: look back one tick's worth of hours; older history is for backfills
            next_hour = now - timedelta(hours=options.sensor_max_hours_per_tick)
        next_hour = max(next_hour, first_hour)
        requests: list[dg.RunRequest] = []
        last_requested = None
        try:
            while next_hour < now and len(requests) < options.sensor_max_hours_per_tick:
                if not hour_available(options.gharchive_source, next_hour):
                    break  # hours appear in order: stop at the first missing one
                key = hour_partition_key(next_hour)
                requests.append(dg.RunRequest(run_key=key, partition_key=key))
                last_requested = key
                next_hour += timedelta(hours=1)
        except httpx.HTTPError as exc:
            if not requests:
                return dg.SkipReason(f"GH Archive source {options.gharchive_source} unreachable: {type(exc).__name__}")
        if not requests:
            return dg.SkipReason(f"no new hour at the source after {context.cursor or 'the look-back window'}")
        return dg.SensorResult(run_requests=requests, cursor=last_requested)

    return new_gharchive_hours


def build_maintenance_schedule(settings: Settings, job: dg.JobDefinition) -> dg.ScheduleDefinition:
    """The table maintenance job on its cron."""
    return dg.ScheduleDefinition(
        name="table_maintenance_schedule",
        cron_schedule=settings.maintenance.cron,
        job=job,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )
