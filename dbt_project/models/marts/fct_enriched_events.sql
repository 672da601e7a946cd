-- depends_on: {{ ref('int_events_classified') }}
-- the incremental branch classifies with pc_classify_events, which reads these:
-- depends_on: {{ ref('stg_posthog__events') }}
-- depends_on: {{ ref('int_person_identity') }}
-- depends_on: {{ ref('int_events_elements') }}
-- depends_on: {{ ref('stg_rules__event_classification') }}
-- depends_on: {{ ref('stg_rules__page_names') }}
-- depends_on: {{ ref('stg_rules__label_template_parts') }}
-- depends_on: {{ ref('stg_rules__privacy_redactions') }}
-- One row per event with person, session, classification, page, element and semantic label.
-- Incremental (not on Spark: pc_enriched_events_config): each run recomputes every event of the sessions
-- touched by new data (events not yet in the table, late ones included, or whose time, name, distinct id or
-- person changed) and of the persons whose identity changed, so sessions that span the boundary get the
-- same ids and sequence numbers a full refresh would give. Events the loader merely re-read (its look-back
-- window) and that did not change are left alone, so their persons are not recomputed downstream. When the
-- rules (or label/session settings) changed since the table was built, rules_fingerprint differs from
-- int_rules_fingerprint and every event is recomputed, so the run after a rule edit equals a full refresh.
-- A table built before the column existed gets it added empty, which counts as changed.
{{
    config(
        unique_key='event_uuid',
        on_schema_change='append_new_columns',
        **pc_enriched_events_config()
    )
}}
{%- set output_columns = [
    'event_uuid', 'project_id', 'person_id', 'distinct_id', 'event_name', 'event_at', 'session_id',
    'sequence_number', 'event_type', 'action_type', 'page_path', 'page_title', 'current_url', 'element_tag',
    'element_text', 'element_href', 'element_id', 'element_classes', 'element_attributes', 'ancestor_tags',
    'semantic_label', 'browser', 'os', 'device_type', 'country', 'referrer', 'created_at', 'rules_fingerprint',
    'refreshed_at', 'event_date'] %}

with current_rules as (
    select rules_fingerprint from {{ ref('int_rules_fingerprint') }}
),

{% if is_incremental() %}
rules_changed as (
    {{ pc_rules_changed('rules_fingerprint') }}
),

{{ pc_enriched_recompute_ctes() }}

sessionized as (
    {{ sessionize_events('recompute') }}
)
{% else %}
sessionized as (
    {{ sessionize_events(ref('int_events_classified'), keys_source='(' ~ pc_event_session_keys() ~ ')') }}
)
{% endif %},

pc_output as (
select
    event_uuid,
    project_id,
    person_id,
    distinct_id,
    event_name,
    event_at,
    session_id,
    sequence_number,
    event_type,
    action_type,
    page_path,
    page_title,
    current_url,
    element_tag,
    element_text,
    element_href,
    element_id,
    element_classes,
    element_attributes,
    ancestor_tags,
    semantic_label,
    browser,
    os,
    device_type,
    country,
    referrer,
    created_at,
    current_rules.rules_fingerprint,
    -- the run that (re)computed the row: person-scoped models downstream recompute its person
    {{ pc_run_stamp() }} as refreshed_at,
    {{ pc_utc_date('event_at') }} as event_date
from sessionized
cross join current_rules
)

{{ pc_incremental_rows('pc_output', 'event_uuid', 'event_date', output_columns) }}
