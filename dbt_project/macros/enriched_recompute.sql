{#- The CTEs of an incremental fct_enriched_events run, ending in `recompute` (every event to
    (re)compute, classified) and a trailing comma. Rendered inside the model (`this` is
    fct_enriched_events). Which events changed is decided once here, on narrow `loaded_events`, and only
    those are classified. Spark never takes this branch (pc_enriched_events_config). -#}
{% macro pc_enriched_recompute_ctes() -%}
{{ pc_enriched_candidates() }}

previous_bounds as (
    select max(event_at) as newest_event_at from {{ this }}
),

new_events as (
    select loaded_events.event_uuid, loaded_events.project_id, loaded_events.person_id, loaded_events.posthog_session_id
    from loaded_events
    cross join previous_bounds
    cross join rules_changed
    where previous_bounds.newest_event_at is null
        or rules_changed.changed
        or not exists (
            select 1 from {{ this }} as existing where existing.event_uuid = loaded_events.event_uuid
        )
),

-- Events whose person changed since the last run (a later $identify, new persons data), or that
-- were re-loaded with another time, name or distinct id.
restitched as (
    select loaded_events.event_uuid, loaded_events.project_id, loaded_events.person_id, loaded_events.posthog_session_id
    from loaded_events
    inner join {{ this }} as existing on existing.event_uuid = loaded_events.event_uuid
    where existing.person_id <> loaded_events.person_id
        or existing.event_at <> loaded_events.event_at
        or existing.event_name <> loaded_events.event_name
        or existing.distinct_id <> loaded_events.distinct_id
),

touched as (
    select * from new_events
    union
    select * from restitched
),

touched_sessions as (
    select distinct project_id, posthog_session_id
    from touched
    where posthog_session_id is not null
),

-- Events without $session_id are sessionized per person, so the person's whole unsessioned
-- history is recomputed (old and new person ids both, when a person changed).
touched_persons as (
    select distinct project_id, person_id
    from touched
    where posthog_session_id is null
    union
    select distinct existing.project_id, existing.person_id
    from {{ this }} as existing
    inner join restitched on restitched.event_uuid = existing.event_uuid
),

{{ pc_enriched_recompute() }}
{%- endmacro %}

{#- Rows to compare with the built table: the staged events and their person only (narrow, no labels),
    so deciding what changed never classifies the whole warehouse. -#}
{% macro pc_enriched_candidates() -%}
loaded_events as (
    select event_uuid, project_id, person_id, session_id as posthog_session_id, event_at, event_name,
        distinct_id
    from ({{ pc_events_with_person() }}) as events_with_person
),
{%- endmacro %}

{#- Only the events to recompute are classified (pc_classify_events), not the whole view. -#}
{% macro pc_enriched_recompute() -%}
recompute_keys as (
    select loaded_events.event_uuid
    from loaded_events
    inner join touched_sessions
        on touched_sessions.project_id = loaded_events.project_id
        and touched_sessions.posthog_session_id = loaded_events.posthog_session_id
    union
    select loaded_events.event_uuid
    from loaded_events
    inner join touched_persons
        on touched_persons.project_id = loaded_events.project_id
        and touched_persons.person_id = loaded_events.person_id
    where loaded_events.posthog_session_id is null
),

recompute_staged as (
    select events_with_person.*
    from ({{ pc_events_with_person() }}) as events_with_person
    inner join recompute_keys on recompute_keys.event_uuid = events_with_person.event_uuid
),

recompute as (
    {{ pc_classify_events('recompute_staged') }}
),
{%- endmacro %}
