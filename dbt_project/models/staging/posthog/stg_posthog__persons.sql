-- PostHog persons, one row per project and person id (latest loaded, then latest created copy wins).
with source as (
    select * from {{ source('posthog_raw', 'persons') }}
),

ranked as (
    select
        cast(project_id as bigint) as project_id,
        cast(id as {{ pc_type_text() }}) as posthog_person_id,
        {{ pc_cast_timestamp('created_at') }} as created_at,
        coalesce(nullif(properties, ''), '{}') as properties,
        coalesce(cast(is_identified as boolean), false) as is_identified,
        row_number() over (
            partition by project_id, id
            order by {{ pc_latest_copy_order(source('posthog_raw', 'persons'), 'created_at desc nulls last') }}
        ) as copy_rank
    from source
    where id is not null
)

select project_id, posthog_person_id, created_at, properties, is_identified
from ranked
where copy_rank = 1
