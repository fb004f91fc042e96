MODEL (
  name staging.stg_github__events,
  kind INCREMENTAL_BY_TIME_RANGE (
    time_column created_at,
    lookback 1
  ),
  grain event_id,
  description 'GitHub events of the repositories the oss-directory names (by org or by repo), one row per event id, with the payload fields the models use typed.',
  audits (
    not_null(columns := (event_id, event_type, created_at, repository_name, actor_login)),
    unique_values(columns := (event_id))
  )
);

WITH directory_github AS (
  SELECT DISTINCT artifact_namespace AS owner, artifact_name AS repo
  FROM staging.stg_ossd__artifacts
  WHERE artifact_source = 'GITHUB' AND artifact_namespace IS NOT NULL
), events AS (
  SELECT
    id AS event_id,
    type AS event_type,
    created_at,
    actor.id AS actor_id,
    LOWER(actor.login) AS actor_login,
    repo.id AS repository_id,
    LOWER(repo.name) AS repository_name,
    LOWER(SPLIT_PART(repo.name, '/', 1)) AS repository_owner,
    LOWER(SPLIT_PART(repo.name, '/', 2)) AS repository_short_name,
    org.login AS org_login,
    payload
  FROM raw.github_events
  WHERE created_at BETWEEN @start_dt AND @end_dt
  QUALIFY ROW_NUMBER() OVER (PARTITION BY id ORDER BY created_at) = 1
)
, kept AS (
  -- The payload fields the models use, from one parse of each payload (@json_strings).
  SELECT
    e.*,
    @json_strings(
      e.payload,
      '$.action',
      '$.distinct_size',
      '$.issue.number',
      '$.pull_request.number',
      '$.number',
      '$.issue.created_at',
      '$.pull_request.created_at',
      '$.issue.user.login',
      '$.pull_request.user.login',
      '$.pull_request.merged'
    ) AS fields
  FROM events AS e
  WHERE EXISTS (
    SELECT 1 FROM directory_github AS d
    WHERE d.owner = e.repository_owner AND (d.repo IS NULL OR d.repo = e.repository_short_name)
  )
)
SELECT
  e.event_id,
  e.event_type,
  e.created_at,
  e.actor_id,
  e.actor_login,
  e.repository_id,
  e.repository_name,
  e.repository_owner,
  e.repository_short_name,
  e.org_login,
  CAST(e.fields[1] AS TEXT) AS action,
  -- Pushes carry their distinct commit count; since 2025-10-07 GitHub sends only the head SHA.
  CAST(e.fields[2] AS BIGINT) AS push_distinct_commits,
  CAST(COALESCE(e.fields[3], e.fields[4], e.fields[5]) AS BIGINT) AS thread_number,
  CAST(COALESCE(e.fields[6], e.fields[7]) AS TIMESTAMPTZ) AS thread_created_at,
  CAST(LOWER(COALESCE(e.fields[8], e.fields[9])) AS TEXT) AS thread_author_login,
  CAST(COALESCE(e.fields[10], 'false') = 'true' AS BOOLEAN) AS pull_request_merged
FROM kept AS e
