/*
display_name: Contributors
description: Developers (bots excluded) who committed, opened an issue or a pull request, or reviewed code in the period.
unit: developers
aggregation_function: COUNT_DISTINCT
*/
SELECT entity_id, sample_date, COUNT(DISTINCT developer_id) AS amount
FROM events
WHERE NOT is_bot
  AND event_type IN ('COMMIT_CODE', 'ISSUE_OPENED', 'PULL_REQUEST_OPENED', 'PULL_REQUEST_REVIEW_COMMENT')
GROUP BY entity_id, sample_date
