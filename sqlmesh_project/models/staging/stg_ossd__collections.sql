MODEL (
  name staging.stg_ossd__collections,
  kind FULL,
  grain collection_id,
  description 'Collections of the current oss-directory version, with deterministic ids.',
  audits (not_null(columns := (collection_id, collection_name)), unique_values(columns := (collection_id)))
);

SELECT
  @entity_id('OSS_DIRECTORY', 'oso', name) AS collection_id,
  'OSS_DIRECTORY' AS collection_source,
  'oso' AS collection_namespace,
  name AS collection_name,
  display_name,
  description,
  projects AS project_names,
  source_version
FROM raw.ossd_collections
