{#- Session ids and sequence numbers for classified events (engine-neutral SQL).
    PostHog's definition: `$session_id` when the client sent one; otherwise a person's events
    are split after more than SESSION_IDLE_MINUTES of inactivity and after more than 24 hours
    from the session start (cap measured from the first event after the gap). Derived session ids
    are stable: a hash of project, person and session start. Ties are broken by event uuid so
    sequence numbers are unique and strictly increasing.

    Sessions need only five columns, so they are computed on narrow rows (`keys_source`, default
    `source`: event_uuid, project_id, person_id, event_at, posthog_session_id) and joined back to the
    wide rows of `source` once. At 1M events, a window over the wide classified rows held them all
    in memory; a full build passes the staged events as `keys_source` so nothing wide is held. -#}
{% macro sessionize_events(source, keys_source=none) -%}
{%- set idle_seconds = pc_int_var('session_idle_minutes') * 60 -%}
{%- set cap_seconds = (var('session_max_hours') | int) * 3600 -%}
with pc_base as (
    select event_uuid, project_id, person_id, event_at, posthog_session_id
    from {{ keys_source if keys_source is not none else source }} as pc_keys
),

pc_unsessioned as (
    select
        event_uuid, project_id, person_id, event_at,
        lag(event_at) over (
            partition by project_id, person_id order by event_at, event_uuid
        ) as previous_at
    from pc_base
    where posthog_session_id is null
),

pc_gaps as (
    select
        pc_unsessioned.*,
        sum(case
                when previous_at is null then 1
                when {{ pc_seconds_between('previous_at', 'event_at') }} > {{ idle_seconds }} then 1
                else 0
            end) over (
            partition by project_id, person_id order by event_at, event_uuid
            rows between unbounded preceding and current row
        ) as gap_number
    from pc_unsessioned
),

pc_gap_starts as (
    select
        pc_gaps.*,
        min(event_at) over (partition by project_id, person_id, gap_number) as gap_started_at
    from pc_gaps
),

pc_capped as (
    select
        pc_gap_starts.*,
        case
            when {{ pc_seconds_between('gap_started_at', 'event_at') }} <= {{ cap_seconds }} then 0
            else cast(ceil({{ pc_seconds_between('gap_started_at', 'event_at') }} / {{ cap_seconds }}.0) as bigint) - 1
        end as cap_number
    from pc_gap_starts
),

pc_derived as (
    select
        event_uuid,
        'derived-' || {{ pc_md5(
            "cast(project_id as " ~ pc_type_text() ~ ") || ':' || coalesce(person_id, '') || ':' || "
            ~ pc_iso_timestamp('min(event_at) over (partition by project_id, person_id, gap_number, cap_number)')
        ) }} as derived_session_id
    from pc_capped
),

pc_sessioned as (
    select
        pc_base.event_uuid,
        pc_base.project_id,
        coalesce(pc_base.posthog_session_id, pc_derived.derived_session_id) as session_id,
        pc_base.event_at
    from pc_base
    left join pc_derived on pc_derived.event_uuid = pc_base.event_uuid
),

pc_sequenced as (
    select
        event_uuid,
        session_id,
        cast(row_number() over (
            partition by project_id, session_id order by event_at, event_uuid
        ) as integer) as sequence_number
    from pc_sessioned
)

select
    pc_source.*,
    pc_sequenced.session_id,
    pc_sequenced.sequence_number
from {{ source }} as pc_source
inner join pc_sequenced on pc_sequenced.event_uuid = pc_source.event_uuid
{%- endmacro %}
