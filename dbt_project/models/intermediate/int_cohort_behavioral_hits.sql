{#- Events that behavioral cohort filters look at: for each behavioral leaf of an evaluable cohort,
    the person's events named like the leaf's event (role 'key') or its sequence event (role 'seq')
    that happened no later than the reference time. Ages and windows are integer microseconds so
    window edges compare exactly. A view (the folder default): its readers each take a few columns of
    the events they need, which at 1M events cost less than writing its ~3M rows once. -#}

with tree as (
    select * from {{ ref('int_cohort_tree') }}
),

blocked as (
    select distinct project_id, cohort_id from tree where issue_status is not null
),

leaves as (
    select t.*
    from tree as t
    where t.node_type = 'behavioral'
        and not exists (
            select 1 from blocked as b where b.project_id = t.project_id and b.cohort_id = t.cohort_id
        )
),

reference as (
    select {{ cohort_epoch_us(cohort_reference_time()) }} as ref_us
),

events as (
    select
        project_id,
        cast(person_id as {{ pc_type_text() }}) as person_id,
        event_name,
        event_uuid,
        distinct_id,
        event_at,
        {{ cohort_epoch_us('event_at') }} as event_us
    from {{ ref('fct_enriched_events') }}
    where person_id is not null
),

keyed as (
    select l.project_id, l.cohort_id, l.node_path, 'key' as role, l.event_key as event_name
    from leaves as l
    union all
    select l.project_id, l.cohort_id, l.node_path, 'seq' as role, l.seq_event as event_name
    from leaves as l
    where l.behavior_kind = 'performed_event_sequence' and l.seq_event is not null
)

select
    k.project_id,
    k.cohort_id,
    k.node_path,
    k.role,
    e.person_id,
    e.event_uuid,
    e.event_name,
    e.distinct_id,
    e.event_at,
    e.event_us,
    r.ref_us - e.event_us as age_us
from keyed as k
inner join events as e
    on e.project_id = k.project_id
    and e.event_name = k.event_name
cross join reference as r
where e.event_us <= r.ref_us
