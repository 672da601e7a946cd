-- Per-event semantics without any window over other events: person, classification, page,
-- element and the human-readable semantic label. Sessions are added by int_events_sessionized.

-- The SQL lives in the macro pc_classify_events (macros/classify_events.sql), shared with the
-- incremental branch of fct_enriched_events.

with events_with_person as {{ pc_not_materialized() }} (
    {{ pc_events_with_person() }}
),

classified as (
    {{ pc_classify_events('events_with_person', inline_events=true) }}
)

select * from classified
