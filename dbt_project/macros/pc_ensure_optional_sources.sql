{#- Raw tables other than `events` only exist once their resource has been loaded (a JSON-export
    or batch-file load writes events only). Create the missing ones empty, with the CONTRACTS
    columns, so the models build on any subset of loaded resources. Run as on-run-start.
    On Spark the raw tables are Parquet folders in the lake, registered here first. -#}
{% macro pc_optional_source_columns(ts, text) -%}
    {{ return({
        'persons': 'project_id bigint, id ' ~ text ~ ', created_at ' ~ ts ~ ', properties ' ~ text ~ ', is_identified boolean',
        'person_distinct_ids': 'project_id bigint, distinct_id ' ~ text ~ ', person_id ' ~ text,
        'cohorts': 'project_id bigint, id bigint, name ' ~ text ~ ', description ' ~ text ~ ', filters ' ~ text ~ ', deleted boolean, is_static boolean, count bigint, created_at ' ~ ts ~ ', last_calculation ' ~ ts,
        'cohort_filter_nodes': 'project_id bigint, cohort_id ' ~ text ~ ', node_id integer, parent_node_id integer, depth integer, child_index integer, node_type ' ~ text ~ ', group_logic ' ~ text ~ ', negation boolean, prop_key ' ~ text ~ ', prop_operator ' ~ text ~ ', prop_values ' ~ text ~ ', cohort_ref ' ~ text ~ ', behavior_kind ' ~ text ~ ', event_key ' ~ text ~ ', window_seconds bigint, operator ' ~ text ~ ', operator_value bigint, seq_event ' ~ text ~ ', seq_window_seconds bigint, total_periods integer, min_periods integer, period_seconds bigint, unsupported_reason ' ~ text,
        'events_quarantine': 'quarantine_id ' ~ text ~ ', project_id bigint, uuid ' ~ text ~ ', reason ' ~ text ~ ', detail ' ~ text ~ ', raw_payload ' ~ text ~ ', source ' ~ text ~ ', quarantined_at ' ~ ts,
    }) }}
{%- endmacro %}

{% macro pc_ensure_optional_sources() %}
    {{ return(adapter.dispatch('pc_ensure_optional_sources', 'posthog_context')()) }}
{% endmacro %}

{% macro default__pc_ensure_optional_sources() %}
    {%- if execute -%}
    {%- set raw = var('raw_schema') -%}
    {%- set tables = pc_optional_source_columns('timestamp with time zone', 'varchar') -%}
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

{#- The lake root (dlt filesystem destination): SPARK_LAKE_URL, default <SPARK_DATA_DIR>/lake. -#}
{% macro pc_spark_lake_url() -%}
    {%- set data_dir = env_var('SPARK_DATA_DIR', './data/spark') -%}
    {{ return((var('spark_lake_url', env_var('SPARK_LAKE_URL', '')) or (data_dir.rstrip('/') ~ '/lake')) | string | trim) }}
{%- endmacro %}

{#- Spark: every <lake>/<dataset>/<table>/ folder holding Parquet files becomes the external table
    <dataset>.<table>, dropped and re-created on every run so columns added by later loads appear
    (schemas of all files are merged). Declared optional raw tables with no files yet become empty
    managed placeholders, replaced by the lake table once files arrive. -#}
{% macro spark__pc_ensure_optional_sources() %}
    {%- if execute -%}
    {%- set lake = pc_spark_lake_url().rstrip('/') -%}
    {%- set raw = var('raw_schema') -%}
    {%- set rules = var('rules_schema') -%}
    {%- set datasets = {'posthog_raw': raw, 'posthog_rules': rules} -%}
    {%- set found = {} -%}
    {%- set files = run_query(
        "select distinct regexp_extract(path, '/([^/]+)/([^/]+)/[^/]*[.]parquet$', 1) as dataset, "
        ~ "regexp_extract(path, '/([^/]+)/([^/]+)/[^/]*[.]parquet$', 2) as tbl "
        ~ "from binaryFile.`" ~ lake ~ "/*/*/*.parquet`") -%}
    {%- for row in files.rows -%}
        {%- if row[0] in datasets and row[1] and not row[1].startswith('_dlt') -%}
            {%- do found.update({(row[0], row[1]): true}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set databases = run_query('show databases').columns[0].values() | map('lower') | list -%}
    {%- for dataset, schema in datasets.items() if schema | lower not in databases -%}
        {%- do run_query('create database if not exists ' ~ schema) -%}
    {%- endfor -%}
    {%- for key in found | sort -%}
        {%- set schema = datasets[key[0]] -%}
        {%- set fqn = schema ~ '.' ~ key[1] -%}
        {%- do run_query('drop table if exists ' ~ fqn) -%}
        {%- do run_query('create table ' ~ fqn ~ " using parquet options (mergeSchema 'true') location '"
            ~ lake ~ '/' ~ key[0] ~ '/' ~ key[1] ~ "'") -%}
        {%- do run_query('refresh table ' ~ fqn) -%}
    {%- endfor -%}
    {%- set tables = pc_optional_source_columns('timestamp', 'string') -%}
    {%- for name in tables if ('posthog_raw', name) not in found -%}
        {%- do log('creating empty raw table ' ~ raw ~ '.' ~ name ~ ' (resource not loaded yet)', info=true) -%}
        {%- do run_query('create table if not exists ' ~ raw ~ '.' ~ name ~ ' (' ~ tables[name] ~ ', _dlt_load_id string) using parquet') -%}
    {%- endfor -%}
    {%- endif -%}
{% endmacro %}
