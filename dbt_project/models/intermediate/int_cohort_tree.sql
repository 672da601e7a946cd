{#- Each cohort's filter tree with cohort-in-cohort references resolved: a `cohort` node becomes a
    one-child AND group (keeping its negation) whose child is the root of the referenced cohort, so a
    cohort is evaluated after — and exactly like — every cohort it depends on, to any depth.
    Rows carry:
      node_path / parent_path  unique ids within the evaluated (root) cohort
      depth                    depth in the resolved tree (0 = root)
      negated_path             negation parity from the root down to this node (match log only)
      issue_status / issue_reason  why this node makes its root cohort not evaluable
        'unsupported': PostHog filter the warehouse cannot evaluate (actions, static cohort lists...)
        'error': reference to a missing/deleted cohort, or a reference cycle. -#}
{{ config(materialized='table') }}

with recursive

nodes as (
    select * from {{ ref('int_cohort_filter_nodes') }}
),

definitions as (
    select project_id, cohort_id, cohort_name, is_static, is_deleted
    from {{ ref('int_cohort_definitions') }}
),

edges as (
    -- ordinary parent → child links inside one cohort
    select
        project_id,
        cohort_id as parent_cohort_id,
        parent_node_id,
        cohort_id as child_cohort_id,
        node_id as child_node_id,
        cast(child_index as {{ pc_type_text() }}) as step,
        false as is_graft
    from nodes
    where parent_node_id is not null
    union all
    -- a cohort reference → the root of the referenced cohort
    select
        x.project_id,
        x.cohort_id,
        x.node_id,
        r.cohort_id,
        r.node_id,
        'c',
        true
    from nodes as x
    inner join nodes as r
        on r.project_id = x.project_id
        and r.cohort_id = x.cohort_ref
        and r.parent_node_id is null
    where x.node_type = 'cohort'
),

walk as (
    select
        n.project_id,
        n.cohort_id as root_cohort_id,
        n.cohort_id as origin_cohort_id,
        n.node_id,
        cast('0' as {{ pc_type_text() }}) as node_path,
        cast(null as {{ pc_type_text() }}) as parent_path,
        0 as depth,
        n.negation as negated_path,
        cast('|' || n.cohort_id || '|' as {{ pc_type_text() }}) as chain
    from nodes as n
    where n.parent_node_id is null
    union all
    select
        w.project_id,
        w.root_cohort_id,
        e.child_cohort_id,
        e.child_node_id,
        cast(w.node_path || '.' || e.step as {{ pc_type_text() }}),
        w.node_path,
        w.depth + 1,
        (w.negated_path <> c.negation),
        cast(w.chain || case when e.is_graft then e.child_cohort_id || '|' else '' end as {{ pc_type_text() }})
    from walk as w
    inner join edges as e
        on e.project_id = w.project_id
        and e.parent_cohort_id = w.origin_cohort_id
        and e.parent_node_id = w.node_id
    inner join nodes as c
        on c.project_id = e.project_id
        and c.cohort_id = e.child_cohort_id
        and c.node_id = e.child_node_id
    where w.depth < 500
        and (not e.is_graft or position('|' || e.child_cohort_id || '|' in w.chain) = 0)
),

resolved as (
    select
        w.project_id,
        w.root_cohort_id as cohort_id,
        w.origin_cohort_id,
        w.node_path,
        w.parent_path,
        w.depth,
        w.negated_path,
        w.chain,
        n.node_type,
        case when n.node_type = 'cohort' then 'AND' else n.group_logic end as group_logic,
        n.negation,
        n.prop_key,
        n.prop_operator,
        n.prop_values,
        n.cohort_ref,
        n.behavior_kind,
        n.event_key,
        n.window_seconds,
        n.operator,
        n.operator_value,
        n.seq_event,
        n.seq_window_seconds,
        n.total_periods,
        n.min_periods,
        n.period_seconds,
        n.unsupported_reason
    from walk as w
    inner join nodes as n
        on n.project_id = w.project_id
        and n.cohort_id = w.origin_cohort_id
        and n.node_id = w.node_id
),

grafted as (
    select distinct project_id, cohort_id, parent_path
    from resolved
    where parent_path is not null
)

select
    r.project_id,
    r.cohort_id,
    r.origin_cohort_id,
    r.node_path,
    r.parent_path,
    r.depth,
    r.negated_path,
    case when r.node_type = 'cohort' then 'group' else r.node_type end as node_type,
    r.group_logic,
    r.negation,
    r.prop_key,
    r.prop_operator,
    r.prop_values,
    r.cohort_ref,
    r.behavior_kind,
    r.event_key,
    r.window_seconds,
    r.operator,
    r.operator_value,
    r.seq_event,
    r.seq_window_seconds,
    r.total_periods,
    r.min_periods,
    r.period_seconds,
    case
        when r.node_type = 'unsupported' then 'unsupported'
        when r.node_type = 'cohort' and g.parent_path is null and d.cohort_id is not null
            and not d.is_deleted and d.is_static then 'unsupported'
        when r.node_type = 'cohort' and g.parent_path is null then 'error'
        when r.node_type not in ('group', 'cohort', 'person', 'behavioral') then 'error'
    end as issue_status,
    case
        when r.node_type = 'unsupported' then
            case when r.origin_cohort_id <> r.cohort_id
                then 'via cohort ' || r.origin_cohort_id || ': ' || coalesce(r.unsupported_reason, 'unsupported filter')
                else coalesce(r.unsupported_reason, 'unsupported filter')
            end
        when r.node_type = 'cohort' and g.parent_path is null and d.cohort_id is not null
            and not d.is_deleted and d.is_static then
            'references static cohort ' || r.cohort_ref || ' (its member list is not loaded)'
        when r.node_type = 'cohort' and g.parent_path is null and d.cohort_id is not null and d.is_deleted then
            'references deleted cohort ' || r.cohort_ref
        when r.node_type = 'cohort' and g.parent_path is null and d.cohort_id is not null
            and position('|' || r.cohort_ref || '|' in r.chain) > 0 then
            'cohort reference cycle through cohort ' || r.cohort_ref
        when r.node_type = 'cohort' and g.parent_path is null and d.cohort_id is not null then
            'references cohort ' || r.cohort_ref || ' which has no filter definition'
        when r.node_type = 'cohort' and g.parent_path is null then
            'references cohort ' || coalesce(r.cohort_ref, '(none)') || ' which does not exist in this project'
        when r.node_type not in ('group', 'cohort', 'person', 'behavioral') then
            'unknown node type ' || coalesce(r.node_type, '(null)')
    end as issue_reason
from resolved as r
left join grafted as g
    on g.project_id = r.project_id
    and g.cohort_id = r.cohort_id
    and g.parent_path = r.node_path
left join definitions as d
    on d.project_id = r.project_id
    and d.cohort_id = r.cohort_ref
