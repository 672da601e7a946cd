-- Events and unique users per project, event name and day (UTC).
select
    project_id,
    {{ pc_date_trunc_utc('day', 'event_at') }} as period_start,
    event_name,
    count(*) as event_count,
    count(distinct person_id) as unique_users
from {{ ref('fct_enriched_events') }}
group by project_id, {{ pc_date_trunc_utc('day', 'event_at') }}, event_name
