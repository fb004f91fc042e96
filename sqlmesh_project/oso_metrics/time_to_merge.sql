/*
display_name: Time to merge
description: Median hours from opening a pull request to its merge, over the pull requests merged in the period.
unit: hours
aggregation_function: MEDIAN
*/
-- Exact on every engine (see macros/exact_median.py), so DuckDB, Spark and Trino agree.
SELECT entity_id, sample_date, @exact_median(hours) AS amount
FROM time_deltas
WHERE delta_type = 'TIME_TO_MERGE'
GROUP BY entity_id, sample_date
