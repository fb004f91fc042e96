MODEL (
  name marts.collections_v1,
  kind FULL,
  grain collection_id,
  description 'Collections of the oss-directory (OSO mart collections_v1).',
  audits (unique_values(columns := (collection_id)), not_null(columns := (collection_id, collection_name)))
);

SELECT collection_id, collection_source, collection_namespace, collection_name, display_name, description
FROM staging.stg_ossd__collections
