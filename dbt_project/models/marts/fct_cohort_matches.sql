{#- Cohort match log: for each member of a cohort, the events that satisfied the cohort's behavioral
    filters (only filters that count positively: no negation on the path from the root, and the
    filter matched). Which events count, per kind (R = reference time, W/S/P as in
    int_cohort_leaf_results): performed_event(_multiple) the events in (R-W, R); first_time the first
    event; sequence both events of each qualifying pair; regularly the events of the counted periods;
    stopped the events in (R-W, R-S]; restarted the events before R-W and in (R-S, R]. -#}

with members as (
    select project_id, cohort_id, cohort_name, person_id
    from {{ ref('fct_cohort_membership') }}
    where status = 'member'
),

leaves as (
    select
        t.project_id,
        t.cohort_id,
        t.node_path,
        t.behavior_kind,
        t.operator,
        t.operator_value,
        t.total_periods,
        t.window_seconds * 1000000 as window_us,
        t.seq_window_seconds * 1000000 as seq_us,
        t.period_seconds * 1000000 as period_us
    from {{ ref('int_cohort_tree') }} as t
    where t.node_type = 'behavioral'
        and not t.negated_path
),

matched_leaves as (
    select l.*, r.person_id
    from leaves as l
    inner join {{ ref('int_cohort_leaf_results') }} as r
        on r.project_id = l.project_id
        and r.cohort_id = l.cohort_id
        and r.node_path = l.node_path
        and r.raw_matched
    inner join members as m
        on m.project_id = r.project_id
        and m.cohort_id = r.cohort_id
        and m.person_id = r.person_id
),

hits as (
    select
        h.*,
        l.behavior_kind,
        l.operator,
        l.operator_value,
        l.total_periods,
        l.window_us,
        l.seq_us,
        l.period_us,
        case when l.period_us > 0
            then floor(cast(h.age_us as {{ pc_type_double() }}) / cast(l.period_us as {{ pc_type_double() }}))
        end as period_index
    from {{ ref('int_cohort_behavioral_hits') }} as h
    inner join matched_leaves as l
        on l.project_id = h.project_id
        and l.cohort_id = h.cohort_id
        and l.node_path = h.node_path
        and l.person_id = h.person_id
),

-- The per-leaf figures below are grouped on the narrow keys and joined back, rather than computed as
-- window functions over the hits: a window carries every hit's columns through its sort (1M events:
-- 1.3M hits, two windows, most of this model's time). Each is needed by one kind of filter only.
first_ages as (
    select project_id, cohort_id, node_path, person_id, max(age_us) as first_age_us
    from hits
    where role = 'key' and behavior_kind = 'performed_event_first_time'
    group by project_id, cohort_id, node_path, person_id
),

period_totals as (
    select project_id, cohort_id, node_path, person_id, period_index, count(*) as period_events
    from hits
    where role = 'key' and behavior_kind = 'performed_event_regularly'
    group by project_id, cohort_id, node_path, person_id, period_index
),

period_sizes as (
    select
        hits.*,
        first_ages.first_age_us,
        period_totals.period_events
    from hits
    left join first_ages
        on first_ages.project_id = hits.project_id
        and first_ages.cohort_id = hits.cohort_id
        and first_ages.node_path = hits.node_path
        and first_ages.person_id = hits.person_id
    left join period_totals
        on period_totals.project_id = hits.project_id
        and period_totals.cohort_id = hits.cohort_id
        and period_totals.node_path = hits.node_path
        and period_totals.person_id = hits.person_id
        and period_totals.period_index = hits.period_index
    where hits.role = 'key'
),

sequence_pairs as (
    select
        f.project_id, f.cohort_id, f.node_path, f.person_id,
        f.event_uuid as first_uuid, f.event_name as first_name, f.distinct_id as first_distinct_id,
        f.event_at as first_at,
        s.event_uuid as second_uuid, s.event_name as second_name, s.distinct_id as second_distinct_id,
        s.event_at as second_at
    from hits as f
    inner join hits as s
        on s.project_id = f.project_id
        and s.cohort_id = f.cohort_id
        and s.node_path = f.node_path
        and s.person_id = f.person_id
        and s.role = 'seq'
        and s.event_us > f.event_us
        and s.event_us <= f.event_us + f.seq_us
        and s.age_us > 0
    where f.role = 'key'
        and f.behavior_kind = 'performed_event_sequence'
        and f.age_us > 0
        and (f.window_us is null or f.age_us < f.window_us)
),

sequence_events as (
    select project_id, cohort_id, node_path, person_id, first_uuid as event_uuid, first_name as event_name,
        first_distinct_id as distinct_id, first_at as event_at
    from sequence_pairs
    union all
    select project_id, cohort_id, node_path, person_id, second_uuid, second_name, second_distinct_id, second_at
    from sequence_pairs
),

qualifying as (
    select project_id, cohort_id, node_path, person_id, event_uuid, event_name, distinct_id, event_at
    from period_sizes
    where case behavior_kind
        when 'performed_event' then age_us > 0 and (window_us is null or age_us < window_us)
        when 'performed_event_multiple' then age_us > 0 and (window_us is null or age_us < window_us)
        when 'performed_event_first_time' then age_us = first_age_us
        when 'performed_event_regularly' then period_index < total_periods
            and {{ cohort_count_compare('period_events', 'operator', 'operator_value') }}
        when 'stopped_performing_event' then age_us >= seq_us and age_us < window_us
        when 'restarted_performing_event' then age_us >= window_us or age_us < seq_us
        else false
    end
    union all
    select * from sequence_events
),

deduplicated as (
    select distinct project_id, cohort_id, person_id, event_uuid, event_name, distinct_id, event_at
    from qualifying
)

select
    cast(q.event_at as {{ pc_type_timestamp() }}) as event_at,
    cast(q.project_id as bigint) as project_id,
    cast(q.cohort_id as {{ pc_type_text() }}) as cohort_id,
    cast(m.cohort_name as {{ pc_type_text() }}) as cohort_name,
    cast(q.event_name as {{ pc_type_text() }}) as event_name,
    cast(q.distinct_id as {{ pc_type_text() }}) as distinct_id,
    cast(q.event_uuid as {{ pc_type_text() }}) as event_uuid,
    cast(q.person_id as {{ pc_type_text() }}) as person_id
from deduplicated as q
inner join members as m
    on m.project_id = q.project_id
    and m.cohort_id = q.cohort_id
    and m.person_id = q.person_id
