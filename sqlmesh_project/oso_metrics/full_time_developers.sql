/*
display_name: Full-time developers
description: Developers (bots excluded) who committed on at least 10 of every 30 days of the period (at least one day).
unit: developers
aggregation_function: COUNT_DISTINCT
*/
WITH commit_days AS (
  SELECT entity_id, sample_date, period_days, developer_id, COUNT(DISTINCT bucket_day) AS active_days
  FROM events
  WHERE event_type = 'COMMIT_CODE' AND NOT is_bot
  GROUP BY entity_id, sample_date, period_days, developer_id
)
SELECT entity_id, sample_date, COUNT(*) AS amount
FROM commit_days
WHERE active_days >= CEIL(period_days * 10.0 / 30.0)
GROUP BY entity_id, sample_date
