MODEL (
  name fork.project_activity_share_v1,
  kind FULL,
  grain project_id,
  description 'A metric of this fork only: each project''s share of all events and of all commits, and its activity rank, over the marts mirrored from the upstream node.',
  audits (
    unique_values(columns := (project_id)),
    not_null(columns := (project_id, events, event_share, activity_rank)),
    number_of_rows(threshold := 1)
  )
);

WITH totals AS (
  SELECT
    project_id,
    MAX(project_name) AS project_name,
    CAST(SUM(event_count) AS BIGINT) AS events,
    CAST(SUM(CASE WHEN event_type = 'COMMIT_CODE' THEN amount ELSE 0 END) AS DOUBLE) AS commits
  FROM "upstream.marts".events_daily_to_project
  GROUP BY project_id
)
SELECT
  t.project_id,
  t.project_name,
  p.display_name,
  t.events,
  t.commits,
  CAST(t.events AS DOUBLE) / SUM(t.events) OVER () AS event_share,
  CASE WHEN SUM(t.commits) OVER () > 0 THEN t.commits / SUM(t.commits) OVER () END AS commit_share,
  CAST(RANK() OVER (ORDER BY t.events DESC) AS BIGINT) AS activity_rank
FROM totals AS t
LEFT JOIN "upstream.marts".projects_v1 AS p
  ON p.project_id = t.project_id
