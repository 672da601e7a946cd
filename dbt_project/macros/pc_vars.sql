{#- Typed access to the project vars (they arrive as strings from env_var). -#}
{% macro pc_int_var(name) -%}
    {{ return(var(name) | int) }}
{%- endmacro %}

{#- A SQL string literal with single quotes doubled, for values known at compile time. -#}
{% macro pc_literal(value) -%}
    '{{ (value | string).replace("'", "''") }}'
{%- endmacro %}
