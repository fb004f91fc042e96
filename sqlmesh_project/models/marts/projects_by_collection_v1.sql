MODEL (
  name marts.projects_by_collection_v1,
  kind FULL,
  grain (project_id, collection_id),
  description 'Projects of each collection (OSO mart projects_by_collection_v1).',
  audits (unique_combination_of_columns(columns := (project_id, collection_id)))
);

SELECT
  project_id, project_source, project_namespace, project_name,
  collection_id, collection_source, collection_namespace, collection_name
FROM intermediate.int_projects_by_collection
