MODEL (
  name intermediate.int_projects_by_collection,
  kind FULL,
  grain (project_id, collection_id),
  description 'Projects of each collection (collections name their projects).',
  audits (
    not_null(columns := (project_id, collection_id)),
    unique_combination_of_columns(columns := (project_id, collection_id))
  )
);

-- The members are exploded before the join: Spark's LATERAL VIEW must come after the joins.
WITH members AS (
  SELECT
    c.collection_id,
    c.collection_source,
    c.collection_namespace,
    c.collection_name,
    m.project_name
  FROM staging.stg_ossd__collections AS c
  CROSS JOIN UNNEST(c.project_names) AS m(project_name)
)
SELECT DISTINCT
  p.project_id,
  p.project_source,
  p.project_namespace,
  p.project_name,
  members.collection_id,
  members.collection_source,
  members.collection_namespace,
  members.collection_name
FROM members
JOIN staging.stg_ossd__projects AS p ON p.project_name = members.project_name
