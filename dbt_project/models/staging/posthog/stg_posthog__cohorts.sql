-- PostHog cohorts with typed flags; ids as text so API and rules cohorts share one key space.
with source as (
    select * from {{ source('posthog_raw', 'cohorts') }}
)

select
    cast(project_id as bigint) as project_id,
    cast(id as {{ pc_type_text() }}) as cohort_id,
    cast(name as {{ pc_type_text() }}) as cohort_name,
    cast(description as {{ pc_type_text() }}) as description,
    filters,
    coalesce(cast(deleted as boolean), false) as is_deleted,
    coalesce(cast(is_static as boolean), false) as is_static,
    cast("count" as bigint) as posthog_count,
    {{ pc_cast_timestamp('created_at') }} as created_at,
    {{ pc_cast_timestamp('last_calculation') }} as last_calculation
from source
