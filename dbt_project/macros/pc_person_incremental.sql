{#- Person-scoped incremental models (fct_sessions, fct_user_patterns, user_context).

    A run recomputes only the persons whose inputs changed and replaces their rows: incremental,
    delete+insert on (project_id, person_id). Rows left behind by a change of owner (a session that
    moved to another person after an $identify, a person whose events all moved) are removed by the
    model's `cleanup` statement, run as a post-hook. Each model stamps the rows it writes with the
    dbt run's start (`pc_run_stamp`); a downstream model takes the persons of upstream rows stamped
    after its own newest stamp, so a model that failed or was skipped catches up on its next run.

    Dispatched: an engine where a full rebuild is cheaper than delete+insert (spark) returns a plain
    table, and the models' incremental branches are simply never taken there. -#}
{% macro pc_person_incremental_config(cleanup=none) -%}
    {{ return(adapter.dispatch('pc_person_incremental_config')(cleanup)) }}
{%- endmacro %}

{% macro default__pc_person_incremental_config(cleanup) -%}
    {%- set cfg = {
        'materialized': 'incremental',
        'unique_key': ['project_id', 'person_id'],
        'incremental_strategy': 'delete+insert',
        'on_schema_change': 'append_new_columns',
    } -%}
    {%- if cleanup -%}
        {%- do cfg.update({'post_hook': [cleanup]}) -%}
    {%- endif -%}
    {{ return(cfg) }}
{%- endmacro %}

{% macro spark__pc_person_incremental_config(cleanup) -%}
    {{ return({'materialized': 'table'}) }}
{%- endmacro %}

{#- The dbt run's start (UTC) as a timestamp literal: the same value in every model of one run. -#}
{% macro pc_run_stamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}+00:00' as {{ pc_type_timestamp() }})
{%- endmacro %}

{#- True when the model's built relation has `column` (checked at compile time); a table built before
    the column existed is recomputed in full once. -#}
{% macro pc_built_has_column(column) -%}
    {%- set built_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {{ return(column | lower in built_columns) }}
{%- endmacro %}

{#- The newest stamp of the model's own rows (a scalar subquery), 1970 when it has none. -#}
{% macro pc_own_watermark(column='refreshed_at') -%}
    (select coalesce(max({{ column }}), cast('1970-01-01' as {{ pc_type_timestamp() }})) from {{ this }})
{%- endmacro %}
