-- First placeholder: correct columns, no rows yet (the cohort evaluation replaces this).
select
    cast(null as timestamp with time zone) as event_at,
    cast(null as bigint) as project_id,
    cast(null as varchar) as cohort_id,
    cast(null as varchar) as cohort_name,
    cast(null as varchar) as event_name,
    cast(null as varchar) as distinct_id,
    cast(null as varchar) as event_uuid,
    cast(null as varchar) as person_id
where 1 = 0
