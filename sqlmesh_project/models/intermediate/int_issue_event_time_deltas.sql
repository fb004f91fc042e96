MODEL (
  name intermediate.int_issue_event_time_deltas,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column time,
    lookback 1
  ),
  grain (delta_type, to_artifact_id, thread_number),
  -- declared: the query reads this model's own table (see earlier_responses)
  columns (
    time TIMESTAMPTZ,
    delta_type TEXT,
    to_artifact_id TEXT,
    from_artifact_id TEXT,
    thread_number BIGINT,
    thread_created_at TIMESTAMPTZ,
    hours DOUBLE
  ),
  description 'Issue and pull request durations: first response by someone other than the author (FIRST_RESPONSE), opening to merge (TIME_TO_MERGE).',
  audits (
    not_null(columns := (time, delta_type, to_artifact_id, thread_number, hours)),
    unique_combination_of_columns(columns := (delta_type, to_artifact_id, thread_number))
  )
);

WITH threads AS (
  SELECT
    created_at AS time,
    event_type,
    action,
    repository_owner,
    repository_short_name,
    actor_login,
    thread_number,
    thread_created_at,
    thread_author_login,
    pull_request_merged
  FROM staging.stg_github__events
  WHERE created_at BETWEEN @start_dt AND @end_dt AND thread_number IS NOT NULL AND thread_created_at IS NOT NULL
), responses AS (
  SELECT *
  FROM threads
  WHERE event_type IN ('IssueCommentEvent', 'PullRequestReviewCommentEvent')
    AND actor_login <> COALESCE(thread_author_login, '')
  QUALIFY ROW_NUMBER() OVER (
    PARTITION BY repository_owner, repository_short_name, thread_number ORDER BY time, actor_login
  ) = 1
), earlier_responses AS (
  -- Threads answered before this interval: their first responses are already in this
  -- table (a self-reference: far smaller than every staged event before the interval).
  SELECT DISTINCT to_artifact_id, thread_number
  FROM intermediate.int_issue_event_time_deltas
  WHERE delta_type = 'FIRST_RESPONSE' AND time < @start_dt
), first_responses AS (
  SELECT r.*
  FROM responses AS r
  LEFT JOIN earlier_responses AS e
    ON e.to_artifact_id = @entity_id('GITHUB', r.repository_owner, r.repository_short_name)
    AND e.thread_number = r.thread_number
  WHERE e.thread_number IS NULL
), deltas AS (
  SELECT time, 'FIRST_RESPONSE' AS delta_type, repository_owner, repository_short_name, actor_login, thread_number, thread_created_at
  FROM first_responses
  UNION ALL
  SELECT time, 'TIME_TO_MERGE' AS delta_type, repository_owner, repository_short_name, actor_login, thread_number, thread_created_at
  FROM threads
  WHERE event_type = 'PullRequestEvent' AND action = 'closed' AND pull_request_merged
)
SELECT
  time,
  delta_type,
  @entity_id('GITHUB', repository_owner, repository_short_name) AS to_artifact_id,
  @entity_id('GITHUB', actor_login, actor_login) AS from_artifact_id,
  thread_number,
  thread_created_at,
  CAST(DATE_DIFF('second', thread_created_at, time) AS DOUBLE) / 3600.0 AS hours
FROM deltas
