MODEL (
  name marts.projects_v1,
  kind FULL,
  grain project_id,
  description 'Projects of the oss-directory (OSO mart projects_v1).',
  audits (
    unique_values(columns := (project_id)),
    not_null(columns := (project_id, project_name)),
    number_of_rows(threshold := 1)
  )
);

SELECT project_id, project_source, project_namespace, project_name, display_name, description
FROM staging.stg_ossd__projects
