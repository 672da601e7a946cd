{#- `with name as {{ pc_materialized() }} (...)`: compute a CTE once even when several later CTEs
    read it. DuckDB otherwise inlines such a CTE into each reader, so an expensive step (a regex split
    of every elements chain) ran once per reader. PostgreSQL 12+ and DuckDB accept the keyword;
    Spark has no syntax for it and plans CTEs its own way. -#}
{% macro pc_materialized() -%}
    {{ return(adapter.dispatch('pc_materialized', 'posthog_context')()) }}
{%- endmacro %}

{% macro default__pc_materialized() -%}materialized{%- endmacro %}

{% macro spark__pc_materialized() -%}{%- endmacro %}

{#- `with name as {{ pc_not_materialized() }} (...)`: let every reader of a CTE read its source
    directly. DuckDB materializes a CTE that several readers share, copying every column, although
    each reader needs only a few (a wide events CTE: ~1 s per reader at 1M events; reading the table
    again with only the needed columns is ~20x cheaper). -#}
{% macro pc_not_materialized() -%}
    {{ return(adapter.dispatch('pc_not_materialized', 'posthog_context')()) }}
{%- endmacro %}

{% macro default__pc_not_materialized() -%}not materialized{%- endmacro %}

{% macro spark__pc_not_materialized() -%}{%- endmacro %}
