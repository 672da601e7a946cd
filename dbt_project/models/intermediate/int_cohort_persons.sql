-- Everybody a cohort can be evaluated for: PostHog persons plus every stitched person seen in events.
{{ config(materialized='table') }}

select distinct project_id, person_id
from (
    select
        cast(project_id as bigint) as project_id,
        cast(posthog_person_id as {{ pc_type_text() }}) as person_id
    from {{ ref('stg_posthog__persons') }}
    union all
    select
        cast(project_id as bigint) as project_id,
        cast(person_id as {{ pc_type_text() }}) as person_id
    from {{ ref('fct_enriched_events') }}
) as people
where person_id is not null
