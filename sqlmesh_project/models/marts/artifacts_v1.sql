MODEL (
  name marts.artifacts_v1,
  kind FULL,
  grain artifact_id,
  description 'Every artifact: project artifacts and the GitHub users who act on them (OSO mart artifacts_v1).',
  audits (unique_values(columns := (artifact_id)), not_null(columns := (artifact_id, artifact_source, artifact_name)))
);

WITH project_artifacts AS (
  SELECT
    artifact_id, artifact_source_id, artifact_source, artifact_namespace, artifact_name, artifact_url,
    ROW_NUMBER() OVER (PARTITION BY artifact_id ORDER BY project_name) AS position
  FROM intermediate.int_artifacts_by_project
)
SELECT artifact_id, artifact_source_id, artifact_source, artifact_namespace, artifact_name, artifact_url
FROM project_artifacts
WHERE position = 1
UNION ALL
SELECT
  d.developer_id AS artifact_id,
  CAST(d.github_user_id AS TEXT) AS artifact_source_id,
  'GITHUB' AS artifact_source,
  d.login AS artifact_namespace,
  d.login AS artifact_name,
  'https://github.com/' || d.login AS artifact_url
FROM intermediate.int_developers__github AS d
WHERE d.developer_id NOT IN (SELECT artifact_id FROM project_artifacts)
