MODEL (
  name intermediate.int_events__github,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column time,
    lookback 1
  ),
  grain event_source_id,
  description 'GitHub events unified: time, event_type, event_source, to/from artifact, amount (OSO event model).',
  audits (not_null(columns := (time, event_type, event_source_id, to_artifact_id, from_artifact_id, amount)))
);

WITH typed AS (
  SELECT
    created_at AS time,
    event_id,
    CASE
      WHEN event_type = 'PushEvent' THEN 'COMMIT_CODE'
      WHEN event_type = 'WatchEvent' THEN 'STARRED'
      WHEN event_type = 'ForkEvent' THEN 'FORKED'
      WHEN event_type = 'IssuesEvent' AND action = 'opened' THEN 'ISSUE_OPENED'
      WHEN event_type = 'IssuesEvent' AND action = 'closed' THEN 'ISSUE_CLOSED'
      WHEN event_type = 'IssuesEvent' AND action = 'reopened' THEN 'ISSUE_REOPENED'
      WHEN event_type = 'IssueCommentEvent' AND action = 'created' THEN 'ISSUE_COMMENT'
      WHEN event_type = 'PullRequestEvent' AND action = 'opened' THEN 'PULL_REQUEST_OPENED'
      WHEN event_type = 'PullRequestEvent' AND action = 'closed' AND pull_request_merged THEN 'PULL_REQUEST_MERGED'
      WHEN event_type = 'PullRequestEvent' AND action = 'closed' THEN 'PULL_REQUEST_CLOSED'
      WHEN event_type = 'PullRequestReviewCommentEvent' THEN 'PULL_REQUEST_REVIEW_COMMENT'
      WHEN event_type = 'ReleaseEvent' AND action = 'published' THEN 'RELEASE_PUBLISHED'
    END AS event_type,
    repository_owner,
    repository_short_name,
    actor_login,
    CASE WHEN event_type = 'PushEvent' THEN CAST(COALESCE(push_distinct_commits, 1) AS DOUBLE) ELSE 1.0 END AS amount
  FROM staging.stg_github__events
  WHERE created_at BETWEEN @start_dt AND @end_dt
)
SELECT
  time,
  event_type,
  'GITHUB' AS event_source,
  event_id AS event_source_id,
  @entity_id('GITHUB', repository_owner, repository_short_name) AS to_artifact_id,
  @entity_id('GITHUB', actor_login, actor_login) AS from_artifact_id,
  amount
FROM typed
WHERE event_type IS NOT NULL
