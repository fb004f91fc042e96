/*
display_name: Merged pull requests
description: Pull requests merged in the entity's repositories.
unit: pull requests
aggregation_function: SUM
*/
SELECT entity_id, sample_date, SUM(amount) AS amount
FROM events
WHERE event_type IN ('PULL_REQUEST_MERGED')
GROUP BY entity_id, sample_date
