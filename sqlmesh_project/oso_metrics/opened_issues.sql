/*
display_name: Opened issues
description: Issues opened in the entity's repositories.
unit: issues
aggregation_function: SUM
*/
SELECT entity_id, sample_date, SUM(amount) AS amount
FROM events
WHERE event_type IN ('ISSUE_OPENED')
GROUP BY entity_id, sample_date
