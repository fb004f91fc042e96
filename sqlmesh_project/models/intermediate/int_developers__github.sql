MODEL (
  name intermediate.int_developers__github,
  kind INCREMENTAL_BY_UNIQUE_KEY (
    unique_key developer_id
  ),
  grain developer_id,
  description 'GitHub users who acted on directory repositories: id, login, bot or not.',
  audits (not_null(columns := (developer_id, login)), unique_values(columns := (developer_id)))
);

SELECT
  @entity_id('GITHUB', actor_login, actor_login) AS developer_id,
  'GITHUB' AS developer_source,
  MAX(actor_id) AS github_user_id,
  actor_login AS login,
  actor_login LIKE '%[bot]' OR actor_login LIKE '%-bot' AS is_bot,
  MAX(created_at) AS last_seen_at
FROM staging.stg_github__events
WHERE created_at BETWEEN @start_dt AND @end_dt
GROUP BY actor_login
