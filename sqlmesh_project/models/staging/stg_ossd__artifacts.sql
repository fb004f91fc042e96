MODEL (
  name staging.stg_ossd__artifacts,
  kind FULL,
  description 'Artifacts declared by oss-directory projects, typed: source, namespace, name (GitHub orgs have no name).',
  audits (not_null(columns := (project_name, artifact_source)))
);

WITH parsed AS (
  SELECT
    project_name,
    UPPER(artifact_type) AS artifact_type,
    url,
    name AS label,
    networks,
    tags,
    LOWER(REGEXP_EXTRACT(url, '^https?://(?:www\.)?github\.com/([^/?#]+)', 1)) AS gh_owner,
    LOWER(REGEXP_EXTRACT(url, '^https?://(?:www\.)?github\.com/[^/?#]+/([^/?#]+)', 1)) AS gh_repo,
    REGEXP_EXTRACT(url, '^https?://(?:www\.)?npmjs\.com/package/(.+?)/?$', 1) AS npm_name,
    REGEXP_EXTRACT(url, '^https?://(?:www\.)?pypi\.org/project/([^/?#]+)', 1) AS pypi_name,
    REGEXP_EXTRACT(url, '^https?://(?:www\.)?crates\.io/crates/([^/?#]+)', 1) AS crate_name,
    REGEXP_EXTRACT(url, '^https?://(?:www\.)?pkg\.go\.dev/(.+?)/?$', 1) AS go_name
  FROM raw.ossd_artifacts
)
SELECT
  project_name,
  artifact_type AS artifact_source,
  CAST(CASE WHEN artifact_type = 'GITHUB' THEN gh_owner ELSE NULL END AS TEXT) AS artifact_namespace,
  CAST(CASE
    WHEN artifact_type = 'GITHUB' THEN NULLIF(gh_repo, '')
    WHEN artifact_type = 'BLOCKCHAIN' THEN LOWER(url)
    WHEN artifact_type = 'NPM' THEN COALESCE(NULLIF(npm_name, ''), url)
    WHEN artifact_type = 'PYPI' THEN COALESCE(NULLIF(LOWER(pypi_name), ''), url)
    WHEN artifact_type = 'CRATES' THEN COALESCE(NULLIF(crate_name, ''), url)
    WHEN artifact_type = 'GO' THEN COALESCE(NULLIF(go_name, ''), url)
    ELSE url
  END AS TEXT) AS artifact_name,
  url AS artifact_url,
  label,
  networks,
  tags
FROM parsed
