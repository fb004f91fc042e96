MODEL (
  name marts.timeseries_events_by_artifact_v0,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column time,
    lookback 1
  ),
  grain event_source_id,
  description 'Every event, to and from artifacts (OSO mart timeseries_events_by_artifact_v0).',
  audits (not_null(columns := (time, to_artifact_id, from_artifact_id, event_type, event_source, amount)))
);

SELECT time, to_artifact_id, from_artifact_id, event_type, event_source_id, event_source, amount
FROM intermediate.int_events__github
WHERE time BETWEEN @start_dt AND @end_dt
