/*
display_name: Time to first response
description: Median hours from opening an issue or pull request to the first comment by someone else, over the first responses in the period.
unit: hours
aggregation_function: MEDIAN
*/
-- An exact median from window functions, so DuckDB, Spark and Trino agree (Trino has only approx_percentile).
WITH ranked AS (
  SELECT
    entity_id,
    sample_date,
    hours,
    ROW_NUMBER() OVER (PARTITION BY entity_id, sample_date ORDER BY hours) AS position,
    COUNT(*) OVER (PARTITION BY entity_id, sample_date) AS deltas
  FROM time_deltas
  WHERE delta_type = 'FIRST_RESPONSE'
)
SELECT entity_id, sample_date, AVG(hours) AS amount
FROM ranked
WHERE position IN (FLOOR((deltas + 1) / 2.0), CEIL((deltas + 1) / 2.0))
GROUP BY entity_id, sample_date
