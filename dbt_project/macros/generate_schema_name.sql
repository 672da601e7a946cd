{#- Custom schema names are used as written (staging, intermediate, analytics), not prefixed
    with the target schema, so every engine gets the same, predictable layout. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema | trim }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
