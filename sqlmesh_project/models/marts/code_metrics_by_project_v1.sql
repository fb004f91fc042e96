MODEL (
  name marts.code_metrics_by_project_v1,
  kind FULL,
  grain project_id,
  description 'Code activity of each project: all-time stars, forks and contributors, and the last 6 months (as of the last day with events) of developers, commits, pull requests and issues (OSO mart code_metrics_by_project_v1).',
  audits (unique_values(columns := (project_id)), not_null(columns := (project_id, star_count, commit_count_6_months)))
);

WITH bounds AS (
  SELECT MAX(bucket_day) AS as_of FROM intermediate.int_events_daily__github
), project_events AS (
  SELECT
    abp.project_id,
    e.bucket_day,
    e.event_type,
    e.to_artifact_id,
    e.from_artifact_id,
    e.from_is_bot,
    e.amount,
    e.bucket_day > CAST(b.as_of - INTERVAL 6 MONTH AS DATE) AS recent
  FROM intermediate.int_events_daily__github AS e
  JOIN (SELECT DISTINCT artifact_id, project_id FROM intermediate.int_artifacts_by_project) AS abp
    ON abp.artifact_id = e.to_artifact_id
  CROSS JOIN bounds AS b
), all_time AS (
  -- Over all time only sums and bounds, of the few event types they need: no distinct
  -- count over every event of history (contributors come from first contributions below).
  SELECT
    project_id,
    SUM(CASE WHEN event_type = 'STARRED' THEN amount ELSE 0 END) AS star_count,
    SUM(CASE WHEN event_type = 'FORKED' THEN amount ELSE 0 END) AS fork_count,
    MIN(CASE WHEN event_type = 'COMMIT_CODE' THEN bucket_day END) AS first_commit_date,
    MAX(CASE WHEN event_type = 'COMMIT_CODE' THEN bucket_day END) AS last_commit_date
  FROM project_events
  WHERE event_type IN ('STARRED', 'FORKED', 'COMMIT_CODE')
  GROUP BY project_id
), recent AS (
  SELECT
    project_id,
    COUNT(DISTINCT CASE WHEN is_contribution THEN from_artifact_id END) AS contributor_count_6_months,
    COUNT(DISTINCT CASE WHEN event_type = 'COMMIT_CODE' AND NOT from_is_bot THEN from_artifact_id END)
      AS active_developer_count_6_months,
    SUM(CASE WHEN event_type = 'COMMIT_CODE' THEN amount ELSE 0 END) AS commit_count_6_months,
    SUM(CASE WHEN event_type = 'PULL_REQUEST_OPENED' THEN amount ELSE 0 END) AS opened_pull_request_count_6_months,
    SUM(CASE WHEN event_type = 'PULL_REQUEST_MERGED' THEN amount ELSE 0 END) AS merged_pull_request_count_6_months,
    SUM(CASE WHEN event_type = 'ISSUE_OPENED' THEN amount ELSE 0 END) AS opened_issue_count_6_months,
    SUM(CASE WHEN event_type = 'ISSUE_CLOSED' THEN amount ELSE 0 END) AS closed_issue_count_6_months,
    SUM(CASE WHEN event_type IN ('ISSUE_COMMENT', 'PULL_REQUEST_REVIEW_COMMENT') THEN amount ELSE 0 END)
      AS comment_count_6_months,
    SUM(CASE WHEN event_type = 'RELEASE_PUBLISHED' THEN amount ELSE 0 END) AS release_count_6_months
  FROM (
    SELECT *, event_type IN ('COMMIT_CODE', 'ISSUE_OPENED', 'PULL_REQUEST_OPENED', 'PULL_REQUEST_REVIEW_COMMENT')
      AND NOT from_is_bot AS is_contribution
    FROM project_events
    WHERE recent
  ) AS e
  GROUP BY project_id
), project_first_contributions AS (
  -- Each developer's first contribution to each project (the earliest over its artifacts):
  -- the project's contributors over all time, and its new contributors.
  SELECT abp.project_id, c.from_artifact_id, MIN(c.first_day) AS first_day
  FROM intermediate.int_first_contributions__github AS c
  JOIN (SELECT DISTINCT artifact_id, project_id FROM intermediate.int_artifacts_by_project) AS abp
    ON abp.artifact_id = c.to_artifact_id
  WHERE NOT c.from_is_bot
  GROUP BY 1, 2
), contributors AS (
  SELECT
    f.project_id,
    COUNT(*) AS contributor_count,
    COUNT(*) FILTER (WHERE f.first_day > CAST(b.as_of - INTERVAL 6 MONTH AS DATE)) AS new_contributor_count_6_months
  FROM project_first_contributions AS f
  CROSS JOIN bounds AS b
  GROUP BY f.project_id
), repositories AS (
  SELECT project_id, COUNT(DISTINCT artifact_id) AS repository_count
  FROM intermediate.int_artifacts_by_project
  WHERE artifact_source = 'GITHUB'
  GROUP BY project_id
)
SELECT
  p.project_id,
  p.project_source,
  p.project_namespace,
  p.project_name,
  p.display_name,
  'GITHUB' AS event_source,
  CAST(COALESCE(a.star_count, 0) AS BIGINT) AS star_count,
  CAST(COALESCE(a.fork_count, 0) AS BIGINT) AS fork_count,
  CAST(COALESCE(c.contributor_count, 0) AS BIGINT) AS contributor_count,
  CAST(COALESCE(m.active_developer_count_6_months, 0) AS BIGINT) AS active_developer_count_6_months,
  CAST(COALESCE(m.commit_count_6_months, 0) AS BIGINT) AS commit_count_6_months,
  CAST(COALESCE(m.opened_pull_request_count_6_months, 0) AS BIGINT) AS opened_pull_request_count_6_months,
  CAST(COALESCE(m.merged_pull_request_count_6_months, 0) AS BIGINT) AS merged_pull_request_count_6_months,
  CAST(COALESCE(m.opened_issue_count_6_months, 0) AS BIGINT) AS opened_issue_count_6_months,
  CAST(COALESCE(m.closed_issue_count_6_months, 0) AS BIGINT) AS closed_issue_count_6_months,
  CAST(COALESCE(r.repository_count, 0) AS BIGINT) AS repository_count,
  CAST(COALESCE(m.contributor_count_6_months, 0) AS BIGINT) AS contributor_count_6_months,
  CAST(COALESCE(c.new_contributor_count_6_months, 0) AS BIGINT) AS new_contributor_count_6_months,
  CAST(COALESCE(m.comment_count_6_months, 0) AS BIGINT) AS comment_count_6_months,
  CAST(COALESCE(m.release_count_6_months, 0) AS BIGINT) AS release_count_6_months,
  a.first_commit_date,
  a.last_commit_date
FROM staging.stg_ossd__projects AS p
LEFT JOIN all_time AS a ON a.project_id = p.project_id
LEFT JOIN recent AS m ON m.project_id = p.project_id
LEFT JOIN contributors AS c ON c.project_id = p.project_id
LEFT JOIN repositories AS r ON r.project_id = p.project_id
