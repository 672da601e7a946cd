{#- One-row select of a boolean `changed`: true when any row of the incremental model being built
    ({{ this }}) carries a rules fingerprint other than the current one, found in the calling model's
    `current_rules` CTE under the same column name. A table built before the column existed counts as
    changed (checked at compile time, since its SQL could not name the missing column). -#}
{% macro pc_rules_changed(column) -%}
    {%- set built_columns = adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list -%}
    {%- if column | lower in built_columns -%}
    select count(*) > 0 as changed
    from {{ this }} as built
    cross join current_rules
    where built.{{ column }} is null
        or built.{{ column }} <> current_rules.{{ column }}
    {%- else -%}
    select true as changed
    {%- endif -%}
{%- endmacro %}
