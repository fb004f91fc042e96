/*
display_name: Time to merge
description: Median hours from opening a pull request to its merge, over the pull requests merged in the period.
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
  WHERE delta_type = 'TIME_TO_MERGE'
)
SELECT entity_id, sample_date, AVG(hours) AS amount
FROM ranked
WHERE position IN (FLOOR((deltas + 1) / 2.0), CEIL((deltas + 1) / 2.0))
GROUP BY entity_id, sample_date
