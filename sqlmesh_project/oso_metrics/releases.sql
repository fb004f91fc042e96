/*
display_name: Releases
description: Releases published.
unit: releases
aggregation_function: SUM
*/
SELECT entity_id, sample_date, SUM(amount) AS amount
FROM events
WHERE event_type IN ('RELEASE_PUBLISHED')
GROUP BY entity_id, sample_date
