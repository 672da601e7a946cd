-- PostHog's distinct id → person mapping.
with source as (
    select * from {{ source('posthog_raw', 'person_distinct_ids') }}
),

ranked as (
    select
        cast(project_id as bigint) as project_id,
        cast(distinct_id as {{ pc_type_text() }}) as distinct_id,
        cast(person_id as {{ pc_type_text() }}) as posthog_person_id,
        row_number() over (
            partition by project_id, distinct_id
            order by {{ pc_latest_copy_order(source('posthog_raw', 'person_distinct_ids'), 'person_id') }}
        ) as copy_rank
    from source
    where distinct_id is not null and person_id is not null
)

select project_id, distinct_id, posthog_person_id
from ranked
where copy_rank = 1
