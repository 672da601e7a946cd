{#- None of the given columns holds a null: one scan of the model for all of them, one row per column that
    has nulls (column name and how many). One test node per model instead of one per column saves dbt's and
    Dagster's per-check overhead (~0.1 s each on every run) while Dagster still shows a check per model. -#}
{% test pc_not_null(model, columns) %}
with null_counts as (
    select
        {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}
)
{%- for column in columns %}
select '{{ column }}' as column_name, {{ column }} as null_rows from null_counts where {{ column }} > 0
{{ 'union all' if not loop.last }}
{%- endfor %}
{% endtest %}
