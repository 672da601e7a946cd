-- The published, LLM-ready context: one row per person with events. Nested parts are JSON text;
-- prompt_text is the compact plain-text rendering for a prompt, within PROMPT_MAX_CHARS, that
-- keeps every recent label (shortened only when the budget demands it), the last session
-- summary and the detected patterns.
{{ config(contract={'enforced': true}) }}
{%- set recent_n = pc_int_var('context_recent_events') %}
{%- set budget = pc_int_var('prompt_max_chars') %}
{%- set text = pc_type_text() %}

with events as (
    select * from {{ ref('fct_enriched_events') }}
),

ranked_events as (
    select
        events.*,
        row_number() over (
            partition by project_id, person_id order by event_at desc, event_uuid desc
        ) as recency
    from events
),

recent as (
    select * from ranked_events where recency <= {{ recent_n }}
),

recent_json as (
    select
        project_id,
        person_id,
        count(*) as recent_count,
        {{ pc_json_array_agg(pc_json_object([
            ('label', 'semantic_label'),
            ('event_type', 'event_type'),
            ('action_type', 'action_type'),
            ('event_name', 'event_name'),
            ('timestamp', pc_iso_timestamp('event_at')),
            ('page', 'coalesce(page_title, page_path)'),
            ('session_id', 'session_id'),
            ('sequence_number', 'sequence_number'),
            ('uuid', 'event_uuid'),
        ]), 'recency') }} as recent_events
    from recent
    group by project_id, person_id
),

last_sessions as (
    select project_id, person_id, session_id, session_summary
    from (
        select
            sessions.*,
            row_number() over (
                partition by project_id, person_id order by ended_at desc, session_id desc
            ) as recency
        from {{ ref('fct_sessions') }} as sessions
    ) as ranked
    where recency = 1
),

patterns as (
    select
        project_id,
        person_id,
        pattern_code,
        severity,
        description,
        session_id,
        matched_count,
        first_matched_at,
        last_matched_at,
        evidence,
        case severity when 'HIGH' then 1 when 'MEDIUM' then 2 else 3 end as severity_rank
    from {{ ref('fct_user_patterns') }}
    where person_id is not null
),

patterns_json as (
    select
        project_id,
        person_id,
        {{ pc_json_array_agg(pc_json_object([
            ('code', 'pattern_code'),
            ('severity', 'severity'),
            ('description', 'description'),
            ('session_id', 'session_id'),
            ('matched_count', 'matched_count'),
            ('first_at', pc_iso_timestamp('first_matched_at')),
            ('last_at', pc_iso_timestamp('last_matched_at')),
            ('evidence', pc_json_parse("coalesce(evidence, '[]')")),
        ]), 'severity_rank, last_matched_at desc, pattern_code, session_id') }} as patterns
    from patterns
    group by project_id, person_id
),

-- The prompt names each detected pattern once, with how many sessions showed it.
pattern_lines as (
    select
        project_id,
        person_id,
        {{ pc_string_agg(
            "'[' || severity || '] ' || pattern_code || ': ' || description"
            ~ " || case when sessions > 1 then ' (' || cast(sessions as " ~ text ~ ") || ' sessions)' else '' end",
            '; ', 'severity_rank, pattern_code') }} as pattern_text
    from (
        select project_id, person_id, pattern_code, severity, severity_rank,
            max(description) as description, count(distinct session_id) as sessions
        from patterns
        group by project_id, person_id, pattern_code, severity, severity_rank
    ) as by_code
    group by project_id, person_id
),

cohorts as (
    select distinct project_id, person_id, cohort_id, cohort_name
    from {{ ref('fct_cohort_membership') }}
    where status = 'member' and person_id is not null
),

cohorts_json as (
    select
        project_id,
        person_id,
        {{ pc_json_array_agg(pc_json_object([('id', 'cohort_id'), ('name', 'cohort_name')]), 'cohort_name, cohort_id') }} as cohorts,
        {{ pc_string_agg('cohort_name', ', ', 'cohort_name, cohort_id') }} as cohort_text
    from cohorts
    group by project_id, person_id
),

persons as (
    select * from {{ ref('dim_persons') }}
    where event_count > 0
),

fixed_parts as (
    select
        persons.project_id,
        persons.person_id,
        'User ' || persons.person_id
            || ' | first seen ' || {{ pc_minute_text('persons.first_seen') }}
            || ' UTC | last seen ' || {{ pc_minute_text('persons.last_seen') }}
            || ' UTC | ' || cast(persons.session_count as {{ text }}) || ' sessions, '
            || cast(persons.event_count as {{ text }}) || ' events'
            || coalesce(' | ' || persons.device_type, '')
            || coalesce(' | ' || persons.browser, '')
            || coalesce(' | ' || persons.country, '')
            || coalesce(chr(10) || 'Last session: ' || last_sessions.session_summary, '')
            || chr(10) || 'Patterns: ' || coalesce(pattern_lines.pattern_text, 'none')
            || coalesce(chr(10) || 'Cohorts: ' || cohorts_json.cohort_text, '')
            || chr(10) || 'Recent activity, newest first (UTC):' as head_text,
        coalesce(recent_json.recent_count, 0) as recent_count
    from persons
    left join last_sessions
        on last_sessions.project_id = persons.project_id and last_sessions.person_id = persons.person_id
    left join pattern_lines
        on pattern_lines.project_id = persons.project_id and pattern_lines.person_id = persons.person_id
    left join cohorts_json
        on cohorts_json.project_id = persons.project_id and cohorts_json.person_id = persons.person_id
    left join recent_json
        on recent_json.project_id = persons.project_id and recent_json.person_id = persons.person_id
),

-- Each activity line gets an equal share of what the budget leaves after the fixed parts.
line_budget as (
    select
        project_id,
        person_id,
        head_text,
        case when recent_count = 0 then 0
            else cast(floor(({{ budget }} - length(head_text)) * 1.0 / recent_count) as integer) - 1 end as line_chars
    from fixed_parts
),

activity_lines as (
    select
        recent.project_id,
        recent.person_id,
        {{ pc_string_agg(
            "case when length(line) <= line_budget.line_chars then line
                  when line_budget.line_chars > 19 then left(line, line_budget.line_chars - 1) || '…'
                  else left(line, 19) end",
            "\n", 'recency') }} as lines
    from (
        select
            project_id, person_id, recency,
            '- ' || substr({{ pc_minute_text('event_at') }}, 6) || ' ' || semantic_label as line
        from recent
    ) as recent
    inner join line_budget
        on line_budget.project_id = recent.project_id and line_budget.person_id = recent.person_id
    group by recent.project_id, recent.person_id
)

select
    cast(persons.person_id as {{ text }}) as person_id,
    cast(persons.project_id as bigint) as project_id,
    cast(persons.distinct_ids as {{ text }}) as distinct_ids,
    cast(coalesce(recent_json.recent_events, '[]') as {{ text }}) as recent_events,
    cast(last_sessions.session_id as {{ text }}) as last_session_id,
    cast(last_sessions.session_summary as {{ text }}) as last_session_summary,
    cast(coalesce(patterns_json.patterns, '[]') as {{ text }}) as patterns,
    cast(coalesce(cohorts_json.cohorts, '[]') as {{ text }}) as cohorts,
    cast(persons.first_seen as {{ pc_type_timestamp() }}) as first_seen,
    cast(persons.last_seen as {{ pc_type_timestamp() }}) as last_seen,
    cast(persons.session_count as bigint) as session_count,
    cast(persons.event_count as bigint) as event_count,
    cast(persons.device_type as {{ text }}) as device_type,
    cast(persons.browser as {{ text }}) as browser,
    cast(persons.country as {{ text }}) as country,
    {{ pc_now() }} as context_as_of,
    cast(left(line_budget.head_text || coalesce(chr(10) || activity_lines.lines, ''), {{ budget }}) as {{ text }}) as prompt_text
from persons
inner join line_budget
    on line_budget.project_id = persons.project_id and line_budget.person_id = persons.person_id
left join recent_json
    on recent_json.project_id = persons.project_id and recent_json.person_id = persons.person_id
left join last_sessions
    on last_sessions.project_id = persons.project_id and last_sessions.person_id = persons.person_id
left join patterns_json
    on patterns_json.project_id = persons.project_id and patterns_json.person_id = persons.person_id
left join cohorts_json
    on cohorts_json.project_id = persons.project_id and cohorts_json.person_id = persons.person_id
left join activity_lines
    on activity_lines.project_id = persons.project_id and activity_lines.person_id = persons.person_id
