{#- Cohort membership: one 'member' row per (cohort, person), or one status row per cohort that
    cannot be evaluated (static list, unsupported filter, broken reference) saying why.

    Evaluation: leaf results per person (int_cohort_leaf_results), then groups are folded bottom-up,
    one generated step per tree level (the number of levels is read from the data at run time):
      AND = every child matched, OR = at least one child matched, then the group's negation;
      an empty group matches everybody (PostHog turns a group without values into `true`);
      a cohort-in-cohort reference is a one-child AND group over the referenced cohort's tree. -#}
{%- set max_depth = cohort_fold_depth() %}

with definitions as (
    select * from {{ ref('int_cohort_definitions') }}
    where not is_deleted
),

tree as (
    select * from {{ ref('int_cohort_tree') }}
),

leaf_results as (
    select * from {{ ref('int_cohort_leaf_results') }}
),

population as (
    select project_id, person_id from {{ ref('int_cohort_persons') }}
),

reference as (
    select {{ cohort_reference_time() }} as reference_time
),

issues as (
    select
        project_id,
        cohort_id,
        max(case when issue_status = 'error' then 1 else 0 end) as has_error,
        {{ pc_string_agg('issue_reason', '; ', 'issue_reason') }} as reasons
    from (
        select distinct project_id, cohort_id, issue_status, issue_reason
        from tree
        where issue_status is not null
    ) as distinct_issues
    group by project_id, cohort_id
),

has_tree as (
    select distinct project_id, cohort_id from tree where parent_path is null
),

cohort_status as (
    select
        d.project_id,
        d.cohort_id,
        d.cohort_name,
        d.source,
        case
            when d.is_static then 'static_not_evaluated'
            when t.cohort_id is null then 'error'
            when i.has_error = 1 then 'error'
            when i.cohort_id is not null then 'unsupported'
        end as status,
        case
            when d.is_static then 'static cohort: its members are an uploaded list, not computed from filters'
            when t.cohort_id is null then 'no filter definition was loaded for this cohort'
            else i.reasons
        end as status_reason
    from definitions as d
    left join issues as i
        on i.project_id = d.project_id
        and i.cohort_id = d.cohort_id
    left join has_tree as t
        on t.project_id = d.project_id
        and t.cohort_id = d.cohort_id
),

groups as (
    select t.project_id, t.cohort_id, t.node_path, t.parent_path, t.depth, t.group_logic, t.negation
    from tree as t
    inner join cohort_status as s
        on s.project_id = t.project_id
        and s.cohort_id = t.cohort_id
        and s.status is null
    where t.node_type = 'group'
),

leaves as (
    select t.project_id, t.cohort_id, t.node_path, t.parent_path, t.depth, r.person_id, r.matched
    from tree as t
    inner join leaf_results as r
        on r.project_id = t.project_id
        and r.cohort_id = t.cohort_id
        and r.node_path = t.node_path
),

{%- for d in range(max_depth, -1, -1) %}

level_{{ d }} as (
    select project_id, cohort_id, node_path, parent_path, person_id, matched
    from leaves
    where depth = {{ d }}
    union all
    select
        g.project_id,
        g.cohort_id,
        g.node_path,
        g.parent_path,
        p.person_id,
        {%- if d < max_depth %}
        (case
            when c.n_children is null then true
            when g.group_logic = 'OR' then c.n_true > 0
            else c.n_true = c.n_children
        end) <> g.negation as matched
        {%- else %}
        (true <> g.negation) as matched
        {%- endif %}
    from groups as g
    inner join population as p
        on p.project_id = g.project_id
    {%- if d < max_depth %}
    left join (
        select
            project_id,
            cohort_id,
            parent_path,
            person_id,
            count(*) as n_children,
            sum(case when matched then 1 else 0 end) as n_true
        from level_{{ d + 1 }}
        group by project_id, cohort_id, parent_path, person_id
    ) as c
        on c.project_id = g.project_id
        and c.cohort_id = g.cohort_id
        and c.parent_path = g.node_path
        and c.person_id = p.person_id
    {%- endif %}
    where g.depth = {{ d }}
),
{%- endfor %}

members as (
    select s.project_id, s.cohort_id, s.cohort_name, s.source, l.person_id
    from level_0 as l
    inner join cohort_status as s
        on s.project_id = l.project_id
        and s.cohort_id = l.cohort_id
        and s.status is null
    where l.parent_path is null
        and l.matched
)

select
    cast(m.project_id as bigint) as project_id,
    cast(m.cohort_id as {{ pc_type_text() }}) as cohort_id,
    cast(m.cohort_name as {{ pc_type_text() }}) as cohort_name,
    cast(m.source as {{ pc_type_text() }}) as source,
    cast(m.person_id as {{ pc_type_text() }}) as person_id,
    cast('member' as {{ pc_type_text() }}) as status,
    cast(null as {{ pc_type_text() }}) as status_reason,
    r.reference_time
from members as m
cross join reference as r
union all
select
    cast(s.project_id as bigint),
    cast(s.cohort_id as {{ pc_type_text() }}),
    cast(s.cohort_name as {{ pc_type_text() }}),
    cast(s.source as {{ pc_type_text() }}),
    cast(null as {{ pc_type_text() }}),
    cast(s.status as {{ pc_type_text() }}),
    cast(s.status_reason as {{ pc_type_text() }}),
    r.reference_time
from cohort_status as s
cross join reference as r
where s.status is not null
