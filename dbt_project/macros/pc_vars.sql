{#- Typed access to the project vars (they arrive as strings from env_var). -#}
{% macro pc_int_var(name) -%}
    {{ return(var(name) | int) }}
{%- endmacro %}

{#- A SQL string literal with single quotes doubled, for values known at compile time. -#}
{% macro pc_literal(value) -%}
    {{ return(adapter.dispatch('pc_literal', 'posthog_context')(value)) }}
{%- endmacro %}

{% macro default__pc_literal(value) -%}
    {{ return("'" ~ (value | string).replace("'", "''") ~ "'") }}
{%- endmacro %}

{#- Spark string literals treat backslash as an escape character. -#}
{% macro spark__pc_literal(value) -%}
    {{ return("'" ~ (value | string).replace("\\", "\\\\").replace("'", "\\'") ~ "'") }}
{%- endmacro %}
