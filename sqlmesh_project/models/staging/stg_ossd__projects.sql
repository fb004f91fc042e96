MODEL (
  name staging.stg_ossd__projects,
  kind FULL,
  grain project_id,
  description 'Projects of the current oss-directory version, with deterministic ids.',
  audits (not_null(columns := (project_id, project_name)), unique_values(columns := (project_id)))
);

SELECT
  @entity_id('OSS_DIRECTORY', 'oso', name) AS project_id,
  'OSS_DIRECTORY' AS project_source,
  'oso' AS project_namespace,
  name AS project_name,
  display_name,
  description,
  source_version
FROM raw.ossd_projects
