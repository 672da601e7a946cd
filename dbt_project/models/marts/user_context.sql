-- The published, LLM-ready context: one row per person with events. Nested parts are JSON text;
-- prompt_text is the compact plain-text rendering for a prompt, within PROMPT_MAX_CHARS, that
-- keeps every recent label (shortened only when the budget demands it), the last session
-- summary and the detected patterns.
-- Incremental per person (pc_person_incremental_config): a run recomputes the persons with events,
-- sessions or patterns (re)computed since this table's newest context_as_of, whose dim_persons
-- fields or cohort memberships (time-relative cohorts move without new events) differ from their
-- row, or whose patterns all disappeared; the post-hook removes persons without events.
-- CONTEXT_RECENT_EVENTS / PROMPT_MAX_CHARS changes reach old rows with --full-refresh (daily job).
{{ config(contract={'enforced': true}) }}
{{ config(**pc_person_incremental_config(
    "delete from {{ this }} as built where not exists (select 1 from {{ ref('dim_persons') }} as p"
    ~ " where p.project_id = built.project_id and p.person_id = built.person_id and p.event_count > 0)"
)) }}
{%- set recent_n = pc_int_var('context_recent_events') %}
{%- set budget = pc_int_var('prompt_max_chars') %}
{%- set text = pc_type_text() %}
{%- set incremental_run = is_incremental() and pc_built_has_column('context_as_of') %}
{%- set only_touched -%}
    {%- if incremental_run %} inner join touched_persons as touched
        on touched.project_id = {alias}.project_id and touched.person_id = {alias}.person_id
    {%- endif %}
{%- endset %}

with cohorts_all as (
    select
        project_id,
        person_id,
        {{ pc_json_array_agg(pc_json_object([('id', 'cohort_id'), ('name', 'cohort_name')]), 'cohort_name, cohort_id') }} as cohorts,
        {{ pc_string_agg('cohort_name', ', ', 'cohort_name, cohort_id') }} as cohort_text
    from (
        select distinct project_id, person_id, cohort_id, cohort_name
        from {{ ref('fct_cohort_membership') }}
        where status = 'member' and person_id is not null
    ) as members
    group by project_id, person_id
),

{% if incremental_run %}
watermark as (
    select {{ pc_own_watermark('context_as_of') }} as stamp
),

touched_persons as (
    select e.project_id, e.person_id
    from {{ ref('fct_enriched_events') }} as e
    where e.refreshed_at > (select stamp from watermark)
    union
    select s.project_id, s.person_id
    from {{ ref('fct_sessions') }} as s
    where s.refreshed_at > (select stamp from watermark)
    union
    select p.project_id, p.person_id
    from {{ ref('fct_user_patterns') }} as p
    where p.refreshed_at > (select stamp from watermark) and p.person_id is not null
    union
    select d.project_id, d.person_id
    from {{ ref('dim_persons') }} as d
    left join {{ this }} as built
        on built.project_id = d.project_id and built.person_id = d.person_id
    where d.event_count > 0 and (
        built.person_id is null
        or built.distinct_ids is distinct from cast(d.distinct_ids as {{ text }})
        or built.first_seen is distinct from d.first_seen
        or built.last_seen is distinct from d.last_seen
        or built.session_count is distinct from d.session_count
        or built.event_count is distinct from d.event_count
        or built.device_type is distinct from d.device_type
        or built.browser is distinct from d.browser
        or built.country is distinct from d.country
    )
    union
    select built.project_id, built.person_id
    from {{ this }} as built
    left join cohorts_all
        on cohorts_all.project_id = built.project_id and cohorts_all.person_id = built.person_id
    where coalesce(cohorts_all.cohorts, '[]') <> built.cohorts
    union
    select built.project_id, built.person_id
    from {{ this }} as built
    where built.patterns <> '[]'
        and not exists (
            select 1 from {{ ref('fct_user_patterns') }} as p
            where p.project_id = built.project_id and p.person_id = built.person_id
        )
),
{% endif %}

events as (
    select all_events.*
    from {{ ref('fct_enriched_events') }} as all_events
    {{ only_touched.replace('{alias}', 'all_events') }}
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
        from (
            select all_sessions.*
            from {{ ref('fct_sessions') }} as all_sessions
            {{ only_touched.replace('{alias}', 'all_sessions') }}
        ) as sessions
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
    from (
        select all_patterns.*
        from {{ ref('fct_user_patterns') }} as all_patterns
        {{ only_touched.replace('{alias}', 'all_patterns') }}
        where all_patterns.person_id is not null
    ) as touched_patterns
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

-- The prompt names each detected pattern once, with how many sessions showed it; the short form
-- (no descriptions) is used when the full one would not leave room for every recent label.
pattern_lines as (
    select
        project_id,
        person_id,
        {{ pc_string_agg(
            "'[' || severity || '] ' || pattern_code || ': ' || description"
            ~ " || case when sessions > 1 then ' (' || cast(sessions as " ~ text ~ ") || ' sessions)' else '' end",
            '; ', 'severity_rank, pattern_code') }} as pattern_text,
        {{ pc_string_agg(
            "'[' || severity || '] ' || pattern_code"
            ~ " || case when sessions > 1 then ' x' || cast(sessions as " ~ text ~ ") else '' end",
            '; ', 'severity_rank, pattern_code') }} as pattern_short
    from (
        select project_id, person_id, pattern_code, severity, severity_rank,
            max(description) as description, count(distinct session_id) as sessions
        from patterns
        group by project_id, person_id, pattern_code, severity, severity_rank
    ) as by_code
    group by project_id, person_id
),

cohorts_json as (
    select * from cohorts_all
),

persons as (
    select all_persons.*
    from {{ ref('dim_persons') }} as all_persons
    {{ only_touched.replace('{alias}', 'all_persons') }}
    where all_persons.event_count > 0
),

-- Activity lines are grouped under a day header: "2025-12-08:" then "- 21:48 <label>".
recent_lines as (
    select
        project_id,
        person_id,
        recency,
        semantic_label,
        day_text,
        time_text,
        case when lag(day_text) over (partition by project_id, person_id order by recency) = day_text
            then 0 else 1 end as starts_day
    from (
        select
            project_id, person_id, recency, semantic_label,
            substr({{ pc_minute_text('event_at') }}, 1, 10) as day_text,
            substr({{ pc_minute_text('event_at') }}, 12, 5) as time_text
        from recent
    ) as stamped
),

activity_size as (
    select
        project_id,
        person_id,
        count(*) as line_count,
        sum(length(semantic_label)) as label_chars,
        -- everything but the labels: "- HH:MM " and a newline per line, "YYYY-MM-DD:" + newline per day
        sum(9 + starts_day * 12) as frame_chars
    from recent_lines
    group by project_id, person_id
),

heads as (
    select
        persons.project_id,
        persons.person_id,
        -- compact on purpose: for a person with one short session this header is most of the prompt
        'User ' || persons.person_id
            || case
                when {{ pc_minute_text('persons.first_seen') }} = {{ pc_minute_text('persons.last_seen') }}
                    then ' | seen ' || {{ pc_minute_text('persons.first_seen') }}
                when substr({{ pc_minute_text('persons.first_seen') }}, 1, 10)
                        = substr({{ pc_minute_text('persons.last_seen') }}, 1, 10)
                    then ' | active ' || {{ pc_minute_text('persons.first_seen') }}
                        || ' to ' || substr({{ pc_minute_text('persons.last_seen') }}, 12, 5)
                else ' | active ' || {{ pc_minute_text('persons.first_seen') }}
                    || ' to ' || {{ pc_minute_text('persons.last_seen') }}
            end
            || ' UTC | ' || cast(persons.session_count as {{ text }})
            || case when persons.session_count = 1 then ' session, ' else ' sessions, ' end
            || cast(persons.event_count as {{ text }})
            || case when persons.event_count = 1 then ' event' else ' events' end
            || coalesce(' | ' || persons.device_type, '')
            || coalesce(' | ' || persons.browser, '')
            || coalesce(' | ' || persons.country, '')
            || coalesce(chr(10) || 'Last session: ' || last_sessions.session_summary, '')
            || chr(10) || 'Patterns: ' as profile_text,
        coalesce(pattern_lines.pattern_text, 'none') as pattern_text,
        coalesce(pattern_lines.pattern_short, 'none') as pattern_short,
        chr(10) || 'Recent events, newest first:' as activity_title,
        coalesce(chr(10) || 'Cohorts: ' || cohorts_json.cohort_text, '') as cohort_text,
        coalesce(activity_size.line_count, 0) as line_count,
        coalesce(activity_size.label_chars, 0) as label_chars,
        coalesce(activity_size.frame_chars, 0) as frame_chars
    from persons
    left join last_sessions
        on last_sessions.project_id = persons.project_id and last_sessions.person_id = persons.person_id
    left join pattern_lines
        on pattern_lines.project_id = persons.project_id and pattern_lines.person_id = persons.person_id
    left join cohorts_json
        on cohorts_json.project_id = persons.project_id and cohorts_json.person_id = persons.person_id
    left join activity_size
        on activity_size.project_id = persons.project_id and activity_size.person_id = persons.person_id
),

chosen_heads as (
    select
        heads.*,
        profile_text
            || case when length(profile_text) + length(pattern_text) + length(activity_title)
                        + label_chars + frame_chars <= {{ budget }}
                    then pattern_text else pattern_short end
            || activity_title as head_text
    from heads
),

-- Labels are shortened (equally) only when all of them in full would not fit the budget.
line_budget as (
    select
        chosen_heads.*,
        case
            when line_count = 0 then 0
            when length(head_text) + label_chars + frame_chars <= {{ budget }} then 1000000
            else cast(floor(({{ budget }} - length(head_text) - frame_chars) * 1.0 / line_count) as integer)
        end as label_limit
    from chosen_heads
),

activity_lines as (
    select
        recent_lines.project_id,
        recent_lines.person_id,
        {{ pc_string_agg(
            "case when starts_day = 1 then chr(10) || day_text || ':' else '' end
                || chr(10) || '- ' || time_text || ' ' ||
                case when length(semantic_label) <= line_budget.label_limit then semantic_label
                     when line_budget.label_limit > 12 then left(semantic_label, line_budget.label_limit - 1) || '…'
                     else left(semantic_label, 12) end",
            '', 'recency') }} as lines
    from recent_lines
    inner join line_budget
        on line_budget.project_id = recent_lines.project_id and line_budget.person_id = recent_lines.person_id
    group by recent_lines.project_id, recent_lines.person_id
),

prompts as (
    select
        line_budget.project_id,
        line_budget.person_id,
        line_budget.head_text || coalesce(activity_lines.lines, '') as core_text,
        line_budget.cohort_text
    from line_budget
    left join activity_lines
        on activity_lines.project_id = line_budget.project_id and activity_lines.person_id = line_budget.person_id
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
    -- start of the dbt run that last recomputed the row (incremental runs skip unchanged persons)
    {{ pc_run_stamp() }} as context_as_of,
    -- cohorts come last and only when they fit; the cut is a last guard against huge summaries
    cast(left(
        prompts.core_text
            || case when length(prompts.core_text) + length(prompts.cohort_text) <= {{ budget }}
                then prompts.cohort_text else '' end,
        {{ budget }}) as {{ text }}) as prompt_text
from persons
inner join prompts
    on prompts.project_id = persons.project_id and prompts.person_id = persons.person_id
left join recent_json
    on recent_json.project_id = persons.project_id and recent_json.person_id = persons.person_id
left join last_sessions
    on last_sessions.project_id = persons.project_id and last_sessions.person_id = persons.person_id
left join patterns_json
    on patterns_json.project_id = persons.project_id and patterns_json.person_id = persons.person_id
left join cohorts_json
    on cohorts_json.project_id = persons.project_id and cohorts_json.person_id = persons.person_id
