-- Flattened filter trees of every cohort in int_cohort_definitions (one row per node, see
-- CONTRACTS: cohort_filter_nodes). Rules nodes without a project are copied into each project.
{{ config(materialized='table') }}

{%- set node_columns = [
    ('project_id', 'bigint'), ('cohort_id', 'text'), ('node_id', 'int'), ('parent_node_id', 'int'),
    ('depth', 'int'), ('child_index', 'int'), ('node_type', 'text'), ('group_logic', 'text'),
    ('negation', 'bool'), ('prop_key', 'text'), ('prop_operator', 'text'), ('prop_values', 'text'),
    ('cohort_ref', 'text'), ('behavior_kind', 'text'), ('event_key', 'text'), ('window_seconds', 'bigint'),
    ('operator', 'text'), ('operator_value', 'bigint'), ('seq_event', 'text'),
    ('seq_window_seconds', 'bigint'), ('total_periods', 'int'), ('min_periods', 'int'),
    ('period_seconds', 'bigint'), ('unsupported_reason', 'text')] %}

with api_nodes as (
    {{ cohort_pattern_input(source('posthog_raw', 'cohort_filter_nodes'), node_columns) }}
),

rules_nodes as (
    {{ cohort_pattern_input(source('posthog_rules', 'cohort_filter_nodes'), node_columns) }}
),

definitions as (
    select project_id, cohort_id, source
    from {{ ref('int_cohort_definitions') }}
    where not is_deleted
),

all_nodes as (
    select d.project_id, d.source,
        {%- for name, kind in node_columns if name != 'project_id' %} n.{{ name }}{{ ',' if not loop.last }}{% endfor %}
    from api_nodes as n
    inner join definitions as d
        on d.source = 'posthog'
        and d.project_id = n.project_id
        and d.cohort_id = n.cohort_id
    union all
    select d.project_id, d.source,
        {%- for name, kind in node_columns if name != 'project_id' %} n.{{ name }}{{ ',' if not loop.last }}{% endfor %}
    from rules_nodes as n
    inner join definitions as d
        on d.source = 'rules'
        and d.cohort_id = n.cohort_id
        and (n.project_id is null or n.project_id = d.project_id)
)

select
    project_id,
    source,
    cohort_id,
    node_id,
    parent_node_id,
    depth,
    coalesce(child_index, 0) as child_index,
    lower(node_type) as node_type,
    upper(group_logic) as group_logic,
    coalesce(negation, false) as negation,
    prop_key,
    lower(prop_operator) as prop_operator,
    prop_values,
    cohort_ref,
    lower(behavior_kind) as behavior_kind,
    event_key,
    window_seconds,
    lower(operator) as operator,
    operator_value,
    seq_event,
    seq_window_seconds,
    total_periods,
    min_periods,
    period_seconds,
    unsupported_reason
from all_nodes
where cohort_id is not null and node_id is not null
