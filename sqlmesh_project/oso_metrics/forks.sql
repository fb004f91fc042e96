/*
display_name: Forks
description: Forks of the entity's repositories.
unit: forks
aggregation_function: SUM
*/
SELECT entity_id, sample_date, SUM(amount) AS amount
FROM events
WHERE event_type IN ('FORKED')
GROUP BY entity_id, sample_date
