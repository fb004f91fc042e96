/*
display_name: Contributor absence factor
description: The smallest number of developers (bots excluded) whose commits make up at least half of the period's commits (the "bus factor").
unit: developers
aggregation_function: CUSTOM
*/
WITH by_developer AS (
  SELECT entity_id, sample_date, developer_id, SUM(amount) AS commits
  FROM events
  WHERE event_type = 'COMMIT_CODE' AND NOT is_bot
  GROUP BY entity_id, sample_date, developer_id
), running AS (
  SELECT
    entity_id,
    sample_date,
    ROW_NUMBER() OVER (PARTITION BY entity_id, sample_date ORDER BY commits DESC, developer_id) AS top_n,
    SUM(commits) OVER (
      PARTITION BY entity_id, sample_date ORDER BY commits DESC, developer_id ROWS UNBOUNDED PRECEDING
    ) AS cumulative,
    SUM(commits) OVER (PARTITION BY entity_id, sample_date) AS total
  FROM by_developer
)
SELECT entity_id, sample_date, MIN(top_n) AS amount
FROM running
WHERE cumulative >= total / 2.0
GROUP BY entity_id, sample_date
