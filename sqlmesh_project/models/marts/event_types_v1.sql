MODEL (
  name marts.event_types_v1,
  kind SEED (
    path '../../seeds/event_types.csv'
  ),
  columns (event_type TEXT),
  grain event_type,
  description 'The event types of timeseries_events_by_artifact_v0 (OSO mart event_types_v1).',
  audits (unique_values(columns := (event_type)))
);
