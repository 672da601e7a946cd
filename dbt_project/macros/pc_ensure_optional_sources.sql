{#- Raw tables other than `events` only exist once their resource has been loaded (a JSON-export
    or batch-file load writes events only). Create the missing ones empty, with the CONTRACTS
    columns, so the models build on any subset of loaded resources. Run as on-run-start. -#}
{% macro pc_ensure_optional_sources() %}
    {%- if execute -%}
    {%- set raw = var('raw_schema') -%}
    {%- set ts = 'timestamp with time zone' -%}
    {%- set tables = {
        'persons': 'project_id bigint, id varchar, created_at ' ~ ts ~ ', properties varchar, is_identified boolean',
        'person_distinct_ids': 'project_id bigint, distinct_id varchar, person_id varchar',
        'cohorts': 'project_id bigint, id bigint, name varchar, description varchar, filters varchar, deleted boolean, is_static boolean, count bigint, created_at ' ~ ts ~ ', last_calculation ' ~ ts,
        'cohort_filter_nodes': 'project_id bigint, cohort_id varchar, node_id integer, parent_node_id integer, depth integer, child_index integer, node_type varchar, group_logic varchar, negation boolean, prop_key varchar, prop_operator varchar, prop_values varchar, cohort_ref varchar, behavior_kind varchar, event_key varchar, window_seconds bigint, operator varchar, operator_value bigint, seq_event varchar, seq_window_seconds bigint, total_periods integer, min_periods integer, period_seconds bigint, unsupported_reason varchar',
        'events_quarantine': 'quarantine_id varchar, project_id bigint, uuid varchar, reason varchar, detail varchar, raw_payload varchar, source varchar, quarantined_at ' ~ ts,
    } -%}
    {%- set missing = [] -%}
    {%- for name in tables -%}
        {%- if adapter.get_relation(database=target.database, schema=raw, identifier=name) is none -%}
            {%- do missing.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if missing -%}
        {%- do run_query('create schema if not exists ' ~ adapter.quote(raw)) -%}
        {%- for name in missing -%}
            {%- do log('creating empty raw table ' ~ raw ~ '.' ~ name ~ ' (resource not loaded yet)', info=true) -%}
            {%- do run_query('create table if not exists ' ~ adapter.quote(raw) ~ '.' ~ adapter.quote(name) ~ ' (' ~ tables[name] ~ ')') -%}
        {%- endfor -%}
        {%- do run_query('commit') -%}
    {%- endif -%}
    {%- endif -%}
{% endmacro %}
