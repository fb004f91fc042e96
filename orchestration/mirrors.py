"""Mirrors in Dagster: a sensor that notices a remote's new snapshots and a job that refreshes that mirror.

The sensor reads the mirrors from the local catalog at each tick (they are added and
removed with ``commonlake mirror``, not in code) and plans each one's refresh: when a
remote table has new metadata, a table appeared, was renamed or dropped, it requests one
run of ``mirror_refresh`` for that mirror, keyed by the remote state it saw, so a change
is refreshed once however many ticks see it.
"""

# No `from __future__ import annotations`: Dagster reads these functions' annotations at run time.
import dagster as dg
from pydantic import Field

from commonlake.settings import Settings
from orchestration.resources import Lakehouse

MIRROR_JOB = "mirror_refresh"
MIRROR_SENSOR = "mirror_updates"


class MirrorRefreshConfig(dg.Config):
    """Which mirror to refresh."""

    mirror: str = Field(description="The mirror's name (see `commonlake mirror list`).")


@dg.op(description="Bring one mirror up to date with its remote node (fails when a table fails).")
def refresh_one_mirror(
    context: dg.OpExecutionContext, config: MirrorRefreshConfig, lakehouse: dg.ResourceParam[Lakehouse]
) -> None:
    from mirror import MirrorError, refresh_mirror

    try:
        report = refresh_mirror(lakehouse.settings, config.mirror)
    except MirrorError as exc:  # the remote or this node's catalog is unreachable, or no such mirror
        raise dg.Failure(description=f"Mirror {config.mirror} not refreshed: {exc}") from exc
    for outcome in report.outcomes:
        context.log.info(f"{outcome.table}: {outcome.action} {outcome.message}".strip())
    stats = report.stats
    context.add_output_metadata(
        {
            "tables": len(report.outcomes),
            "files_copied": stats.files_copied,
            "bytes_copied": stats.bytes_copied,
            "seconds": round(report.seconds, 3),
        }
    )
    if not report.ok:
        failed = "; ".join(f"{o.table}: {o.message}" for o in report.outcomes if not o.ok)
        raise dg.Failure(description=f"Mirror {config.mirror} refresh failed for: {failed}")


@dg.job(name=MIRROR_JOB, description="Refresh one mirror of another Commonlake node.")
def mirror_refresh() -> None:
    refresh_one_mirror()


def build_mirror_sensor(settings: Settings) -> dg.SensorDefinition:
    """One run of ``mirror_refresh`` per mirror whose remote changed."""

    @dg.sensor(
        name=MIRROR_SENSOR,
        job=mirror_refresh,
        minimum_interval_seconds=settings.mirror.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Asks each mirror's remote catalog for its tables and refreshes the mirror when they changed.",
    )
    def mirror_updates(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        from mirror import MirrorError, list_mirrors, plan_refresh

        try:
            mirrors = list_mirrors(settings)
        except MirrorError as exc:
            return dg.SkipReason(str(exc))
        requests: list[dg.RunRequest] = []
        skipped: list[str] = []
        for config in mirrors:
            try:
                plan = plan_refresh(settings, config.name)
            except MirrorError as exc:
                skipped.append(f"{config.name}: {exc}")
                continue
            if plan.has_changes:
                requests.append(
                    dg.RunRequest(
                        run_key=f"{config.name}-{plan.fingerprint}",
                        run_config={"ops": {"refresh_one_mirror": {"config": {"mirror": config.name}}}},
                        tags={"commonlake/mirror": config.name},
                    )
                )
        for reason in skipped:
            context.log.warning(f"mirror not checked: {reason}")
        if not requests:
            detail = "; ".join(skipped) if skipped else f"{len(mirrors)} mirrors up to date"
            return dg.SkipReason(detail)
        return dg.SensorResult(run_requests=requests)

    return mirror_updates


MIRROR_JOBS = (mirror_refresh,)
