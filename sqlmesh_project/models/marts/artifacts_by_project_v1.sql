MODEL (
  name marts.artifacts_by_project_v1,
  kind FULL,
  grain (artifact_id, project_id),
  description 'Artifacts of each project (OSO mart artifacts_by_project_v1).',
  audits (unique_combination_of_columns(columns := (artifact_id, project_id)), number_of_rows(threshold := 1))
);

SELECT
  artifact_id, artifact_source_id, artifact_source, artifact_namespace, artifact_name,
  project_id, project_source, project_namespace, project_name
FROM intermediate.int_artifacts_by_project
