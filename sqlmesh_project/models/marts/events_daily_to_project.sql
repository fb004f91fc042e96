MODEL (
  name marts.events_daily_to_project,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column bucket_day,
    lookback 1
  ),
  grain (project_id, event_source, event_type, bucket_day),
  description 'Events per project, event type and day (a Commonlake mart).',
  audits (
    not_null(columns := (project_id, event_type, bucket_day, amount)),
    unique_combination_of_columns(columns := (project_id, event_source, event_type, bucket_day))
  )
);

SELECT
  abp.project_id,
  abp.project_name,
  e.event_source,
  e.event_type,
  e.bucket_day,
  SUM(e.amount) AS amount,
  SUM(e.event_count) AS event_count
FROM intermediate.int_events_daily__github AS e
JOIN (SELECT DISTINCT artifact_id, project_id, project_name FROM intermediate.int_artifacts_by_project) AS abp
  ON abp.artifact_id = e.to_artifact_id
WHERE e.bucket_day BETWEEN @start_date AND @end_date
GROUP BY 1, 2, 3, 4, 5
