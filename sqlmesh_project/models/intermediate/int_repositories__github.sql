MODEL (
  name intermediate.int_repositories__github,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key artifact_id
  ),
  grain artifact_id,
  description 'GitHub repositories of directory projects seen in events, with their GitHub ids.',
  audits (not_null(columns := (artifact_id, repository_owner, repository_short_name)))
);

SELECT
  @entity_id('GITHUB', repository_owner, repository_short_name) AS artifact_id,
  MAX(repository_id) AS repository_id,
  repository_owner,
  repository_short_name,
  MAX(created_at) AS last_seen_at
FROM staging.stg_github__events
WHERE created_at BETWEEN @start_dt AND @end_dt
GROUP BY repository_owner, repository_short_name
