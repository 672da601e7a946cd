{#- Classification, page, element fields and semantic label for a set of staged events: any
    relation or CTE with the columns of stg_posthog__events plus person_id (pc_events_with_person).
    int_events_classified applies it to every event; an incremental fct_enriched_events run applies it
    only to the events it recomputes, so a run with a few thousand new events does not classify (and
    hold in memory) the whole warehouse. -#}
{% macro pc_classify_events(events_relation, inline_events=false) -%}
{%- set label_max = pc_int_var('label_max_length') %}
with events as {% if inline_events %}{{ pc_not_materialized() }} {% endif %}(
    select * from {{ events_relation }}
),

rules as (
    select * from {{ ref('stg_rules__event_classification') }}
),

-- Candidate classifications; rank 1 beats 2 beats 3, then priority. For $autocapture the
-- $event_type rule is the more specific one, so an exact '$autocapture' rule is only its fallback.
candidates as (
    select events.event_uuid, rules.event_type, rules.action_type, rules.priority, rules.rule_id,
        case when events.event_name = '$autocapture' then 2 else 1 end as kind_rank
    from events
    inner join rules
        on rules.match_kind = 'event' and rules.match_value = events.event_name
    union all
    select events.event_uuid, rules.event_type, rules.action_type, rules.priority, rules.rule_id,
        1 as kind_rank
    from events
    inner join rules
        on rules.match_kind = 'autocapture_event_type'
        and events.event_name = '$autocapture'
        and rules.match_value_lower = lower(events.autocapture_event_type)
    union all
    select events.event_uuid, rules.event_type, rules.action_type, rules.priority, rules.rule_id,
        3 as kind_rank
    from events
    inner join rules
        on rules.match_kind = 'keyword'
        and substr(events.event_name, 1, 1) <> '$'
        and position(rules.match_value_lower in lower(events.event_name)) > 0
),

classification as (
    select event_uuid, event_type, action_type
    from (
        select
            candidates.*,
            row_number() over (
                partition by event_uuid order by kind_rank, priority, rule_id
            ) as preference
        from candidates
    ) as ranked
    where preference = 1
),

paths as (
    select
        event_uuid,
        case
            when raw_path is null then null
            when length(raw_path) > 1 and substr(raw_path, length(raw_path), 1) = '/'
                then substr(raw_path, 1, length(raw_path) - 1)
            else raw_path
        end as page_path
    from (
        select
            event_uuid,
            coalesce(
                pathname,
                case when current_url is not null then coalesce(
                    {{ pc_regex_extract('current_url', '^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*(/[^?#]*)') }},
                    {{ pc_regex_extract('current_url', '^(/[^?#]*)') }},
                    case when {{ pc_regex_match('current_url', '^[A-Za-z][A-Za-z0-9+.-]*://') }} then '/' end
                ) end
            ) as raw_path
        from events
    ) as raw_paths
),

page_rule_candidates as (
    select
        paths.event_uuid,
        page_rules.page_name,
        row_number() over (
            partition by paths.event_uuid
            order by page_rules.priority,
                case when page_rules.match_kind = 'equals' then 0 else 1 end,
                length(page_rules.path) desc,
                page_rules.rule_id
        ) as preference
    from paths
    inner join {{ ref('stg_rules__page_names') }} as page_rules
        on (page_rules.match_kind = 'equals' and paths.page_path = page_rules.path)
        or (page_rules.match_kind = 'prefix'
            and substr(paths.page_path, 1, length(page_rules.path)) = page_rules.path)
),

pages as (
    select
        paths.event_uuid,
        paths.page_path,
        coalesce(
            page_rule_candidates.page_name,
            nullif(trim(events.page_title_property), ''),
            case
                when paths.page_path is null then null
                when paths.page_path = '/' then 'home page'
                else lower(replace(replace(
                    {{ pc_regex_extract('paths.page_path', '^/*([^/]+)') }}, '-', ' '), '_', ' ')) || ' page'
            end
        ) as page_title
    from paths
    inner join events on events.event_uuid = paths.event_uuid
    left join page_rule_candidates
        on page_rule_candidates.event_uuid = paths.event_uuid and page_rule_candidates.preference = 1
),

template_parts as (
    select
        events.event_uuid,
        parts.part_index,
        case
            when parts.part_kind = 'text' then parts.part_value
            when redactions.property_key is not null then '[redacted]'
            else nullif(trim({{ pc_json_str_by_key('events.properties', 'parts.part_value') }}), '')
        end as part_text
    from events
    inner join {{ ref('stg_rules__label_template_parts') }} as parts
        on parts.event_name = events.event_name
    left join {{ ref('stg_rules__privacy_redactions') }} as redactions
        on parts.part_kind = 'property' and redactions.property_key = lower(parts.part_value)
),

-- A template with any missing property is not used (the label falls back to the event name).
template_labels as (
    select
        event_uuid,
        case when count(*) = count(part_text)
            then {{ pc_string_agg('part_text', '', 'part_index') }}
        end as template_label
    from template_parts
    group by event_uuid
),

enriched as (
    select
        events.event_uuid,
        events.project_id,
        events.person_id,
        events.distinct_id,
        events.event_name,
        events.event_at,
        events.created_at,
        events.session_id as posthog_session_id,
        coalesce(classification.event_type,
            case when substr(events.event_name, 1, 1) = '$' then 'other' else 'custom' end) as event_type,
        coalesce(classification.action_type, 'other') as action_type,
        pages.page_path,
        pages.page_title,
        events.current_url,
        elements.element_tag,
        coalesce(elements.element_text, events.el_text) as element_text,
        elements.element_href,
        elements.element_id,
        elements.element_classes,
        coalesce(elements.element_attributes, '{}') as element_attributes,
        elements.ancestor_tags,
        elements.element_description,
        template_labels.template_label,
        nullif(trim({{ pc_json_str('events.properties', '$screen_name') }}), '') as screen_name,
        events.browser,
        events.os,
        events.device_type,
        events.country,
        events.referrer,
        events.referring_domain,
        events.utm_source,
        events.utm_medium,
        events.utm_campaign,
        events.elements_chain <> '' as has_elements
    from events
    left join classification on classification.event_uuid = events.event_uuid
    left join pages on pages.event_uuid = events.event_uuid
    left join {{ ref('int_events_elements') }} as elements on elements.event_uuid = events.event_uuid
    left join template_labels on template_labels.event_uuid = events.event_uuid
),

phrased as (
    select
        enriched.*,
        -- Quoted element text, whitespace collapsed and kept short; shown as plain text.
        case when element_text is not null then
            {{ pc_literal("'") }} || case when length(clean_text) > 60 then left(clean_text, 59) || '…' else clean_text end || {{ pc_literal("'") }}
        end as quoted_text,
        case action_type
            when 'rage_click' then 'Rage-clicked'
            when 'dead_click' then 'Dead-clicked'
            when 'submit' then 'Submitted'
            when 'change' then 'Changed'
            else 'Clicked'
        end as element_verb,
        lower(substr(replace(replace(replace(event_name, '$', ''), '_', ' '), '-', ' '), 1, 1))
            || substr(replace(replace(replace(event_name, '$', ''), '_', ' '), '-', ' '), 2) as humanized_name
    from (
        select
            enriched.*,
            trim({{ pc_regex_replace_all('element_text', '[[:space:][:cntrl:]]+', ' ') }}) as clean_text
        from enriched
    ) as enriched
),

labelled as (
    select
        phrased.*,
        case
            when template_label is not null then template_label
            when event_name = '$screen' then 'Viewed ' || coalesce(screen_name || ' screen', 'a screen')
            when action_type = 'view' and event_type = 'pageview' then 'Viewed ' || coalesce(page_title, 'a page')
            when action_type = 'leave' then 'Left ' || coalesce(page_title, 'the page')
            when (has_elements or event_name in ('$autocapture', '$rageclick', '$dead_click'))
                and action_type in ('click', 'rage_click', 'dead_click', 'submit', 'change')
                then element_verb
                    || coalesce(' ' || quoted_text, '')
                    || coalesce(' ' || element_description, '')
                    || coalesce(' on ' || page_title, '')
            when event_name = '$identify' then 'Identified as a known user'
            when event_name = '$create_alias' then 'Linked another id to this user'
            else upper(substr(humanized_name, 1, 1)) || substr(humanized_name, 2)
        end as raw_label
    from phrased
),

capped as (
    select
        labelled.*,
        trim({{ pc_regex_replace_all('raw_label', '[[:cntrl:]]+', ' ') }}) as clean_label
    from labelled
)

select
    event_uuid,
    project_id,
    person_id,
    distinct_id,
    event_name,
    event_at,
    created_at,
    posthog_session_id,
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
    case
        when length(clean_label) > {{ label_max }} then left(clean_label, {{ label_max - 1 }}) || '…'
        else clean_label
    end as semantic_label,
    browser,
    os,
    device_type,
    country,
    referrer,
    referring_domain,
    utm_source,
    utm_medium,
    utm_campaign
from capped
{%- endmacro %}

{#- Staged events with the stitched person id. -#}
{% macro pc_events_with_person() -%}
    select
        events.*,
        identity.person_id
    from {{ ref('stg_posthog__events') }} as events
    left join {{ ref('int_person_identity') }} as identity
        on identity.project_id = events.project_id and identity.distinct_id = events.distinct_id
{%- endmacro %}

{#- The columns sessionize_events needs, from the staged events with the stitched person id. -#}
{% macro pc_event_session_keys() -%}
    select event_uuid, project_id, person_id, event_at, session_id as posthog_session_id
    from ({{ pc_events_with_person() }}) as events_with_person
{%- endmacro %}
