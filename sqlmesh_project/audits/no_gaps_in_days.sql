AUDIT (
  name no_gaps_in_days,
  dialect duckdb
);
-- Days between the first and the last day present in the audited rows that have no row.
-- (Only within the data: intervals after the last loaded hour are empty, not gaps.)
WITH days AS (
  SELECT DISTINCT CAST(@column AS DATE) AS day FROM @this_model
), bounds AS (
  SELECT MIN(day) AS first_day, MAX(day) AS last_day, COUNT(*) AS present FROM days
)
SELECT first_day, last_day, present
FROM bounds
WHERE present < DATE_DIFF('day', first_day, last_day) + 1
