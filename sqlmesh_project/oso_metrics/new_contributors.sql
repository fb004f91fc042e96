/*
display_name: New contributors
description: Developers (bots excluded) whose first contribution to the entity falls in the period.
unit: developers
aggregation_function: COUNT_DISTINCT
*/
SELECT entity_id, sample_date, COUNT(DISTINCT developer_id) AS amount
FROM first_contributions
GROUP BY entity_id, sample_date
