-- Person stitching: every distinct id of a project mapped to one person.
-- Precedence for a distinct id d:
--   1. PostHog's own mapping (person_distinct_ids);
--   2. a merge link ($identify with $anon_distinct_id, or $create_alias) to a primary id p,
--      resolved through p's PostHog mapping, p's latest event person id, p's own link, or p itself;
--   3. the person id PostHog put on d's latest event;
--   4. d itself.
-- Ids without a PostHog person get a stable id derived from project and root distinct id.
{{ config(materialized='table') }}

with events as (
    select project_id, event_uuid, distinct_id, posthog_person_id, event_at, event_name,
        anon_distinct_id, alias_distinct_id
    from {{ ref('stg_posthog__events') }}
),

posthog_map as (
    select project_id, distinct_id, posthog_person_id
    from {{ ref('stg_posthog__person_distinct_ids') }}
),

event_person as (
    select project_id, distinct_id, posthog_person_id
    from (
        select
            project_id, distinct_id, posthog_person_id,
            row_number() over (
                partition by project_id, distinct_id order by event_at desc, event_uuid desc
            ) as recency
        from events
        where posthog_person_id is not null
    ) as ranked
    where recency = 1
),

link_events as (
    select project_id, anon_distinct_id as linked_id, distinct_id as primary_id, event_at, event_uuid
    from events
    where event_name = '$identify' and anon_distinct_id is not null and anon_distinct_id <> distinct_id
    union all
    select project_id, alias_distinct_id as linked_id, distinct_id as primary_id, event_at, event_uuid
    from events
    where event_name = '$create_alias' and alias_distinct_id is not null and alias_distinct_id <> distinct_id
),

-- The first link of an id wins, as in PostHog where a merged id stays with its first person.
links as (
    select project_id, linked_id, primary_id
    from (
        select
            link_events.*,
            row_number() over (
                partition by project_id, linked_id order by event_at, event_uuid
            ) as link_rank
        from link_events
    ) as ranked
    where link_rank = 1
),

all_ids as (
    select project_id, distinct_id from events
    union
    select project_id, distinct_id from posthog_map
    union
    select project_id, linked_id as distinct_id from links
),

-- Person of an id from PostHog data alone (mapping, else latest event person id).
known as (
    select
        all_ids.project_id,
        all_ids.distinct_id,
        posthog_map.posthog_person_id as mapped_person_id,
        event_person.posthog_person_id as event_person_id
    from all_ids
    left join posthog_map
        on posthog_map.project_id = all_ids.project_id and posthog_map.distinct_id = all_ids.distinct_id
    left join event_person
        on event_person.project_id = all_ids.project_id and event_person.distinct_id = all_ids.distinct_id
),

-- Resolve a primary id one more link up, so chains like anon → alias → user land on one person.
primary_resolved as (
    select
        known.project_id,
        known.distinct_id as primary_id,
        coalesce(
            known.mapped_person_id,
            known.event_person_id,
            grand.mapped_person_id,
            grand.event_person_id
        ) as posthog_person_id,
        coalesce(up.primary_id, known.distinct_id) as root_id
    from known
    left join links as up
        on up.project_id = known.project_id and up.linked_id = known.distinct_id
    left join known as grand
        on grand.project_id = up.project_id and grand.distinct_id = up.primary_id
),

resolved as (
    select
        known.project_id,
        known.distinct_id,
        case
            when known.mapped_person_id is not null then known.mapped_person_id
            when links.primary_id is not null then primary_resolved.posthog_person_id
            else known.event_person_id
        end as posthog_person_id,
        case
            when known.mapped_person_id is not null then 'posthog_persons'
            when links.primary_id is not null then 'merge_link'
            when known.event_person_id is not null then 'event_person_id'
            else 'distinct_id'
        end as identity_source,
        case
            when links.primary_id is not null then primary_resolved.root_id
            else known.distinct_id
        end as root_distinct_id
    from known
    left join links
        on links.project_id = known.project_id and links.linked_id = known.distinct_id
    left join primary_resolved
        on primary_resolved.project_id = links.project_id and primary_resolved.primary_id = links.primary_id
)

select
    project_id,
    distinct_id,
    coalesce(
        posthog_person_id,
        'd_' || {{ pc_md5("cast(project_id as " ~ pc_type_text() ~ ") || ':' || root_distinct_id") }}
    ) as person_id,
    posthog_person_id,
    identity_source
from resolved
