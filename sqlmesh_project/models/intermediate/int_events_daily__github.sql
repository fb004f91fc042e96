MODEL (
  name intermediate.int_events_daily__github,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column bucket_day,
    lookback 1
  ),
  grain (bucket_day, event_type, to_artifact_id, from_artifact_id),
  description 'Unified GitHub events per day, type, artifact and developer: what every metric reads.',
  audits (
    not_null(columns := (bucket_day, event_type, to_artifact_id, from_artifact_id, amount)),
    unique_combination_of_columns(columns := (bucket_day, event_type, to_artifact_id, from_artifact_id)),
    no_gaps_in_days(column := bucket_day)
  )
);

SELECT
  CAST(e.time AS DATE) AS bucket_day,
  e.event_source,
  e.event_type,
  e.to_artifact_id,
  e.from_artifact_id,
  COALESCE(MAX(d.is_bot), FALSE) AS from_is_bot,
  SUM(e.amount) AS amount,
  COUNT(*) AS event_count
FROM intermediate.int_events__github AS e
LEFT JOIN intermediate.int_developers__github AS d ON d.developer_id = e.from_artifact_id
WHERE e.time BETWEEN @start_dt AND @end_dt
GROUP BY 1, 2, 3, 4, 5
