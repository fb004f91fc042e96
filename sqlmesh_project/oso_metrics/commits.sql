/*
display_name: Commits
description: Commits pushed to the entity's repositories (distinct commits per push; one per push when GitHub omits the commit list).
unit: commits
aggregation_function: SUM
*/
SELECT entity_id, sample_date, SUM(amount) AS amount
FROM events
WHERE event_type IN ('COMMIT_CODE')
GROUP BY entity_id, sample_date
