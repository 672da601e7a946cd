-- One row per person: distinct ids, first/last seen, latest device facts, and PostHog person
-- properties without the keys listed in the privacy rules (top level; the export writer also
-- removes them at any depth).
with identity as (
    select * from {{ ref('int_person_identity') }}
),

events as (
    select * from {{ ref('fct_enriched_events') }}
),

activity as (
    select
        project_id,
        person_id,
        min(event_at) as first_seen,
        max(event_at) as last_seen,
        count(*) as event_count,
        count(distinct session_id) as session_count
    from events
    group by project_id, person_id
),

latest_facts as (
    select project_id, person_id, device_type, browser, os, country
    from (
        select
            project_id, person_id, device_type, browser, os, country,
            row_number() over (
                partition by project_id, person_id
                order by case when device_type is null and browser is null then 1 else 0 end,
                    event_at desc, event_uuid desc
            ) as recency
        from events
    ) as ranked
    where recency = 1
),

distinct_ids as (
    select
        project_id,
        person_id,
        {{ pc_json_value_array_agg('distinct_id', 'distinct_id') }} as distinct_ids
    from identity
    group by project_id, person_id
),

persons as (
    select project_id, posthog_person_id, properties, is_identified, created_at
    from {{ ref('stg_posthog__persons') }}
),

property_rows as (
    {{ pc_json_each_rows('persons', ['s.project_id', 's.posthog_person_id'], 'properties') }}
),

kept_properties as (
    select
        property_rows.project_id,
        property_rows.posthog_person_id,
        {{ pc_json_object_agg('property_rows.json_key', pc_json_parse('property_rows.json_value')) }} as properties
    from property_rows
    left join {{ ref('stg_rules__privacy_redactions') }} as redactions
        on redactions.property_key = lower(property_rows.json_key)
    where redactions.property_key is null
    group by property_rows.project_id, property_rows.posthog_person_id
),

people as (
    select distinct project_id, person_id, posthog_person_id
    from identity
)

select
    people.project_id,
    people.person_id,
    people.posthog_person_id,
    distinct_ids.distinct_ids,
    activity.first_seen,
    activity.last_seen,
    coalesce(activity.event_count, 0) as event_count,
    coalesce(activity.session_count, 0) as session_count,
    latest_facts.device_type,
    latest_facts.browser,
    latest_facts.os,
    latest_facts.country,
    coalesce(persons.is_identified, false) as is_identified,
    persons.created_at as person_created_at,
    coalesce(kept_properties.properties, '{}') as properties
from people
inner join distinct_ids
    on distinct_ids.project_id = people.project_id and distinct_ids.person_id = people.person_id
left join activity
    on activity.project_id = people.project_id and activity.person_id = people.person_id
left join latest_facts
    on latest_facts.project_id = people.project_id and latest_facts.person_id = people.person_id
left join persons
    on persons.project_id = people.project_id and persons.posthog_person_id = people.posthog_person_id
left join kept_properties
    on kept_properties.project_id = people.project_id
    and kept_properties.posthog_person_id = people.posthog_person_id
