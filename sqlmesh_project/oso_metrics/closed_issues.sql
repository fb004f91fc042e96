/*
display_name: Closed issues
description: Issues closed in the entity's repositories.
unit: issues
aggregation_function: SUM
*/
SELECT entity_id, sample_date, SUM(amount) AS amount
FROM events
WHERE event_type IN ('ISSUE_CLOSED')
GROUP BY entity_id, sample_date
