/*
display_name: Stars
description: Stars given to the entity's repositories.
unit: stars
aggregation_function: SUM
*/
SELECT entity_id, sample_date, SUM(amount) AS amount
FROM events
WHERE event_type IN ('STARRED')
GROUP BY entity_id, sample_date
