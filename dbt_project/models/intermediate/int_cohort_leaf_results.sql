{#- One row per (cohort leaf, person) for every person and every person/behavioral leaf of an
    evaluable cohort: raw_matched is the filter itself, matched applies the leaf's negation.

    Behavioral kinds, with R = reference time, W = window, S = sequence/recent window, P = period
    (edges as PostHog's cohort SQL writes them):
      performed_event             a `key` event with R - W < t < R (no W: any t < R)
      performed_event_multiple    count of those compared with operator / operator_value
      performed_event_first_time  first-ever `key` event (t <= R) has R - W <= t < R
      performed_event_sequence    a `key` event with R - W < t1 < R followed by `seq_event` at
                                  t1 < t2 <= t1 + S, t2 < R
      performed_event_regularly   periods k = 0..total-1 are (R-(k+1)P, R-kP]; at least min_periods
                                  of them have a count matching operator / operator_value
      stopped_performing_event    some `key` in (R-W, R-S] and none in (R-S, R]
      restarted_performing_event  some `key` at t <= R-W, none in (R-W, R-S], some in (R-S, R]
    Person properties (PostHog semantics): exact / is_not take any of several values; a missing
    property fails exact, icontains, regex, gt, lt and passes is_not, not_icontains, not_regex; an empty
    value list matches everybody; text comparisons are case-sensitive except (not_)icontains. -#}
{{ config(materialized='table') }}

with tree as (
    select * from {{ ref('int_cohort_tree') }}
),

blocked as (
    select distinct project_id, cohort_id from tree where issue_status is not null
),

leaves as (
    select t.*
    from tree as t
    where t.node_type in ('person', 'behavioral')
        and not exists (
            select 1 from blocked as b where b.project_id = t.project_id and b.cohort_id = t.cohort_id
        )
),

population as (
    select project_id, person_id from {{ ref('int_cohort_persons') }}
),

properties as (
    select project_id, person_id, prop_key, prop_text from {{ ref('int_cohort_person_properties') }}
),

-- Read by several steps below: inlined, so each reads the few columns it needs from the table
-- instead of DuckDB copying all 3M hits (at 1M events) once and spilling them to disk.
hits as {{ pc_not_materialized() }} (
    select project_id, cohort_id, node_path, role, person_id, event_uuid, event_us, age_us
    from {{ ref('int_cohort_behavioral_hits') }}
),

-- ---------------------------------------------------------------- person-property leaves
person_leaves as (
    select project_id, cohort_id, node_path, prop_key, prop_operator, prop_values, negation
    from leaves
    where node_type = 'person'
),

leaf_values as (
    {{ cohort_json_array_rows('person_leaves', ['project_id', 'cohort_id', 'node_path'], 'prop_values') }}
),

person_base as (
    select
        l.project_id,
        l.cohort_id,
        l.node_path,
        l.prop_operator,
        l.negation,
        p.person_id,
        pr.prop_text
    from person_leaves as l
    inner join population as p
        on p.project_id = l.project_id
    left join properties as pr
        on pr.project_id = p.project_id
        and pr.person_id = p.person_id
        and pr.prop_key = l.prop_key
),

person_counts as (
    select
        b.project_id,
        b.cohort_id,
        b.node_path,
        b.person_id,
        b.prop_operator,
        b.negation,
        b.prop_text,
        count(v.element_text) as n_values,
        sum(case when v.element_text = b.prop_text then 1 else 0 end) as n_equal,
        sum(case when b.prop_operator in ('icontains', 'not_icontains')
            and position(lower(v.element_text) in lower(b.prop_text)) > 0 then 1 else 0 end) as n_contains,
        sum(case when b.prop_operator in ('regex', 'not_regex') and b.prop_text is not null
            and v.element_text is not null
            then case when {{ cohort_regex_match_expr('b.prop_text', 'v.element_text') }} then 1 else 0 end
            else 0 end) as n_regex,
        sum(case when b.prop_operator = 'gt'
            and {{ pc_safe_cast_double('b.prop_text') }} > {{ pc_safe_cast_double('v.element_text') }}
            then 1 else 0 end) as n_gt,
        sum(case when b.prop_operator = 'lt'
            and {{ pc_safe_cast_double('b.prop_text') }} < {{ pc_safe_cast_double('v.element_text') }}
            then 1 else 0 end) as n_lt
    from person_base as b
    left join leaf_values as v
        on v.project_id = b.project_id
        and v.cohort_id = b.cohort_id
        and v.node_path = b.node_path
    group by b.project_id, b.cohort_id, b.node_path, b.person_id, b.prop_operator, b.negation, b.prop_text
),

person_results as (
    select
        project_id,
        cohort_id,
        node_path,
        person_id,
        negation,
        coalesce(case prop_operator
            when 'is_set' then prop_text is not null
            when 'is_not_set' then prop_text is null
            when 'exact' then n_values = 0 or n_equal > 0
            when 'is_not' then n_values = 0 or prop_text is null or n_equal = 0
            when 'icontains' then n_values = 0 or n_contains > 0
            when 'not_icontains' then n_values = 0 or prop_text is null or n_contains = 0
            when 'regex' then n_values = 0 or n_regex > 0
            when 'not_regex' then n_values = 0 or prop_text is null or n_regex = 0
            when 'gt' then n_gt > 0
            when 'lt' then n_lt > 0
            else false
        end, false) as raw_matched
    from person_counts
),

-- ---------------------------------------------------------------- behavioral leaves
behavior_leaves as (
    select
        project_id,
        cohort_id,
        node_path,
        negation,
        behavior_kind,
        operator,
        operator_value,
        total_periods,
        coalesce(min_periods, 1) as min_periods,
        window_seconds * 1000000 as window_us,
        seq_window_seconds * 1000000 as seq_us,
        period_seconds * 1000000 as period_us
    from leaves
    where node_type = 'behavioral'
),

key_hits as {{ pc_not_materialized() }} (
    select h.*, l.behavior_kind, l.window_us, l.seq_us, l.period_us, l.total_periods
    from hits as h
    inner join behavior_leaves as l
        on l.project_id = h.project_id
        and l.cohort_id = h.cohort_id
        and l.node_path = h.node_path
    where h.role = 'key'
),

key_counts as (
    select
        project_id,
        cohort_id,
        node_path,
        person_id,
        sum(case when age_us > 0 and (window_us is null or age_us < window_us) then 1 else 0 end) as n_window,
        max(age_us) as first_age_us,
        sum(case when age_us >= seq_us and age_us < window_us then 1 else 0 end) as n_middle,
        sum(case when age_us < seq_us then 1 else 0 end) as n_recent,
        sum(case when age_us >= window_us then 1 else 0 end) as n_before
    from key_hits
    group by project_id, cohort_id, node_path, person_id
),

sequence_pairs as (
    select distinct
        f.project_id,
        f.cohort_id,
        f.node_path,
        f.person_id,
        f.event_uuid
    from key_hits as f
    inner join hits as s
        on s.project_id = f.project_id
        and s.cohort_id = f.cohort_id
        and s.node_path = f.node_path
        and s.person_id = f.person_id
        and s.role = 'seq'
        and s.event_us > f.event_us
        and s.event_us <= f.event_us + f.seq_us
        and s.age_us > 0
    where f.behavior_kind = 'performed_event_sequence'
        and f.age_us > 0
        and (f.window_us is null or f.age_us < f.window_us)
),

sequence_counts as (
    select project_id, cohort_id, node_path, person_id, count(*) as n_sequences
    from sequence_pairs
    group by project_id, cohort_id, node_path, person_id
),

period_counts as (
    select
        project_id,
        cohort_id,
        node_path,
        person_id,
        floor(cast(age_us as {{ pc_type_double() }}) / cast(period_us as {{ pc_type_double() }})) as period_index,
        count(*) as n_events
    from key_hits
    where behavior_kind = 'performed_event_regularly'
        and period_us > 0
    group by project_id, cohort_id, node_path, person_id,
        floor(cast(age_us as {{ pc_type_double() }}) / cast(period_us as {{ pc_type_double() }}))
),

regular_counts as (
    select
        c.project_id,
        c.cohort_id,
        c.node_path,
        c.person_id,
        count(*) as n_active_periods,
        sum(case when {{ cohort_count_compare('c.n_events', 'l.operator', 'l.operator_value') }}
            then 1 else 0 end) as n_matching_active
    from period_counts as c
    inner join behavior_leaves as l
        on l.project_id = c.project_id
        and l.cohort_id = c.cohort_id
        and l.node_path = c.node_path
    where c.period_index < l.total_periods
    group by c.project_id, c.cohort_id, c.node_path, c.person_id
),

behavior_results as (
    select
        l.project_id,
        l.cohort_id,
        l.node_path,
        p.person_id,
        l.negation,
        coalesce(case l.behavior_kind
            when 'performed_event' then coalesce(k.n_window, 0) > 0
            when 'performed_event_multiple' then
                {{ cohort_count_compare('coalesce(k.n_window, 0)', 'l.operator', 'l.operator_value') }}
            when 'performed_event_first_time' then
                k.first_age_us > 0 and (l.window_us is null or k.first_age_us <= l.window_us)
            when 'performed_event_sequence' then coalesce(s.n_sequences, 0) > 0
            when 'performed_event_regularly' then
                coalesce(r.n_matching_active, 0)
                + case when {{ cohort_count_compare('0', 'l.operator', 'l.operator_value') }}
                    then coalesce(l.total_periods, 0) - coalesce(r.n_active_periods, 0) else 0 end
                >= l.min_periods
            when 'stopped_performing_event' then
                coalesce(k.n_middle, 0) > 0 and coalesce(k.n_recent, 0) = 0
            when 'restarted_performing_event' then
                coalesce(k.n_before, 0) > 0 and coalesce(k.n_middle, 0) = 0 and coalesce(k.n_recent, 0) > 0
            else false
        end, false) as raw_matched
    from behavior_leaves as l
    inner join population as p
        on p.project_id = l.project_id
    left join key_counts as k
        on k.project_id = l.project_id
        and k.cohort_id = l.cohort_id
        and k.node_path = l.node_path
        and k.person_id = p.person_id
    left join sequence_counts as s
        on s.project_id = l.project_id
        and s.cohort_id = l.cohort_id
        and s.node_path = l.node_path
        and s.person_id = p.person_id
    left join regular_counts as r
        on r.project_id = l.project_id
        and r.cohort_id = l.cohort_id
        and r.node_path = l.node_path
        and r.person_id = p.person_id
),

all_results as (
    select project_id, cohort_id, node_path, person_id, negation, raw_matched from person_results
    union all
    select project_id, cohort_id, node_path, person_id, negation, raw_matched from behavior_results
)

select
    project_id,
    cohort_id,
    node_path,
    person_id,
    raw_matched,
    (raw_matched <> negation) as matched
from all_results
