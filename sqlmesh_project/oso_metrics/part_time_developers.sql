/*
display_name: Part-time developers
description: Developers (bots excluded) who committed in the period, on fewer than 10 of every 30 of its days.
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
WHERE active_days < CEIL(period_days * 10.0 / 30.0)
GROUP BY entity_id, sample_date
