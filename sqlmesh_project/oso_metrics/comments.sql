/*
display_name: Comments
description: Issue comments and pull request review comments.
unit: comments
aggregation_function: SUM
*/
SELECT entity_id, sample_date, SUM(amount) AS amount
FROM events
WHERE event_type IN ('ISSUE_COMMENT', 'PULL_REQUEST_REVIEW_COMMENT')
GROUP BY entity_id, sample_date
