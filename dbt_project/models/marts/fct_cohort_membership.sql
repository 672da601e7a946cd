-- First placeholder: correct columns, no rows yet (the cohort evaluation replaces this).
select
    cast(null as bigint) as project_id,
    cast(null as varchar) as cohort_id,
    cast(null as varchar) as cohort_name,
    cast(null as varchar) as source,
    cast(null as varchar) as person_id,
    cast(null as varchar) as status,
    cast(null as varchar) as status_reason,
    cast(null as timestamp with time zone) as reference_time
where 1 = 0
