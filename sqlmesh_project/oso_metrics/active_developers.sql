/*
display_name: Active developers
description: Developers (bots excluded) who pushed commits in the period.
unit: developers
aggregation_function: COUNT_DISTINCT
*/
SELECT entity_id, sample_date, COUNT(DISTINCT developer_id) AS amount
FROM events
WHERE event_type = 'COMMIT_CODE' AND NOT is_bot
GROUP BY entity_id, sample_date
