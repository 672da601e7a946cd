-- First placeholder: correct columns, no rows yet (the rule evaluation replaces this).
select
    cast(null as bigint) as project_id,
    cast(null as varchar) as person_id,
    cast(null as varchar) as session_id,
    cast(null as varchar) as pattern_code,
    cast(null as varchar) as severity,
    cast(null as varchar) as description,
    cast(null as bigint) as matched_count,
    cast(null as timestamp with time zone) as first_matched_at,
    cast(null as timestamp with time zone) as last_matched_at,
    cast(null as timestamp with time zone) as detected_at,
    cast(null as varchar) as evidence
where 1 = 0
