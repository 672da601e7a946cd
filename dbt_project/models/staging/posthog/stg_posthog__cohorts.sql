-- PostHog cohorts with typed flags; ids as text so API and rules cohorts share one key space.
-- One row per project and cohort id (the latest loaded copy, for append-only lakes).
with source as (
    select * from {{ source('posthog_raw', 'cohorts') }}
),

ranked as (
    select
        source.*,
        row_number() over (
            partition by project_id, id
            order by {{ pc_latest_copy_order(source('posthog_raw', 'cohorts'), 'last_calculation desc nulls last') }}
        ) as copy_rank
    from source
)

select
    cast(project_id as bigint) as project_id,
    cast(id as {{ pc_type_text() }}) as cohort_id,
    cast(name as {{ pc_type_text() }}) as cohort_name,
    cast(description as {{ pc_type_text() }}) as description,
    filters,
    coalesce(cast(deleted as boolean), false) as is_deleted,
    coalesce(cast(is_static as boolean), false) as is_static,
    cast({{ adapter.quote('count') }} as bigint) as posthog_count,
    {{ pc_cast_timestamp('created_at') }} as created_at,
    {{ pc_cast_timestamp('last_calculation') }} as last_calculation
from ranked
where copy_rank = 1
