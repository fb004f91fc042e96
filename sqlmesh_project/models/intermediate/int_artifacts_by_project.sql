MODEL (
  name intermediate.int_artifacts_by_project,
  kind FULL,
  grain (artifact_id, project_id),
  description 'Artifacts of each project: GitHub repositories (org entries expand to the repositories seen in events), npm, PyPI, crates and Go packages, and blockchain addresses once per network.',
  audits (
    not_null(columns := (artifact_id, artifact_source, artifact_name, project_id)),
    unique_combination_of_columns(columns := (artifact_id, project_id))
  )
);

WITH github_declared AS (
  SELECT project_name, artifact_namespace, artifact_name, artifact_url
  FROM staging.stg_ossd__artifacts
  WHERE artifact_source = 'GITHUB' AND artifact_namespace IS NOT NULL
), github_repos AS (
  SELECT d.project_name, d.artifact_namespace, d.artifact_name
  FROM github_declared AS d
  WHERE d.artifact_name IS NOT NULL
  UNION
  SELECT d.project_name, r.repository_owner AS artifact_namespace, r.repository_short_name AS artifact_name
  FROM github_declared AS d
  JOIN intermediate.int_repositories__github AS r ON r.repository_owner = d.artifact_namespace
  WHERE d.artifact_name IS NULL
), github_artifacts AS (
  SELECT
    g.project_name,
    'GITHUB' AS artifact_source,
    g.artifact_namespace,
    g.artifact_name,
    COALESCE(CAST(r.repository_id AS TEXT), g.artifact_namespace || '/' || g.artifact_name) AS artifact_source_id,
    'https://github.com/' || g.artifact_namespace || '/' || g.artifact_name AS artifact_url
  FROM github_repos AS g
  LEFT JOIN intermediate.int_repositories__github AS r
    ON r.repository_owner = g.artifact_namespace AND r.repository_short_name = g.artifact_name
), package_artifacts AS (
  SELECT project_name, artifact_source, '' AS artifact_namespace, artifact_name, artifact_name AS artifact_source_id, artifact_url
  FROM staging.stg_ossd__artifacts
  WHERE artifact_source IN ('NPM', 'PYPI', 'CRATES', 'GO', 'OPEN_COLLECTIVE', 'DEFILLAMA')
), blockchain_artifacts AS (
  SELECT
    a.project_name,
    UPPER(n.network) AS artifact_source,
    '' AS artifact_namespace,
    a.artifact_name,
    a.artifact_name AS artifact_source_id,
    a.artifact_url
  FROM staging.stg_ossd__artifacts AS a
  CROSS JOIN UNNEST(a.networks) AS n(network)
  WHERE a.artifact_source = 'BLOCKCHAIN'
), all_artifacts AS (
  SELECT * FROM github_artifacts
  UNION ALL
  SELECT * FROM package_artifacts
  UNION ALL
  SELECT * FROM blockchain_artifacts
)
SELECT DISTINCT
  @entity_id(a.artifact_source, a.artifact_namespace, a.artifact_name) AS artifact_id,
  a.artifact_source_id,
  a.artifact_source,
  a.artifact_namespace,
  a.artifact_name,
  a.artifact_url,
  p.project_id,
  p.project_source,
  p.project_namespace,
  p.project_name
FROM all_artifacts AS a
JOIN staging.stg_ossd__projects AS p ON p.project_name = a.project_name
