/*
display_name: Time to first response
description: Median hours from opening an issue or pull request to the first comment by someone else, over the first responses in the period.
unit: hours
aggregation_function: MEDIAN
*/
-- Exact on every engine (see macros/exact_median.py), so DuckDB, Spark and Trino agree.
SELECT entity_id, sample_date, @exact_median(hours) AS amount
FROM time_deltas
WHERE delta_type = 'FIRST_RESPONSE'
GROUP BY entity_id, sample_date
