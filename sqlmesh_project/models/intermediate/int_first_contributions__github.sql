MODEL (
  name intermediate.int_first_contributions__github,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column first_day
  ),
  grain (to_artifact_id, from_artifact_id),
  description 'The day of each developer''s first contribution (commit, issue, pull request, review) to each repository.',
  audits (
    not_null(columns := (first_day, to_artifact_id, from_artifact_id)),
    unique_combination_of_columns(columns := (to_artifact_id, from_artifact_id))
  )
);

WITH contributions AS (
  SELECT to_artifact_id, from_artifact_id, bucket_day, from_is_bot
  FROM intermediate.int_events_daily__github
  WHERE event_type IN ('COMMIT_CODE', 'ISSUE_OPENED', 'PULL_REQUEST_OPENED', 'PULL_REQUEST_REVIEW_COMMENT')
), in_interval AS (
  SELECT to_artifact_id, from_artifact_id, MIN(bucket_day) AS first_day, BOOL_OR(from_is_bot) AS from_is_bot
  FROM contributions
  WHERE bucket_day BETWEEN @start_date AND @end_date
  GROUP BY 1, 2
)
SELECT i.first_day, i.to_artifact_id, i.from_artifact_id, i.from_is_bot
FROM in_interval AS i
WHERE NOT EXISTS (
  SELECT 1 FROM contributions AS earlier
  WHERE earlier.bucket_day < @start_date
    AND earlier.to_artifact_id = i.to_artifact_id
    AND earlier.from_artifact_id = i.from_artifact_id
)
