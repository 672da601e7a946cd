{#- Casts. The safe variants give NULL instead of failing on bad text. -#}

{% macro pc_cast_timestamp(expr) -%}
    cast({{ expr }} as {{ pc_type_timestamp() }})
{%- endmacro %}

{% macro pc_safe_cast_bigint(expr) -%}
    {{ return(adapter.dispatch('pc_safe_cast_bigint', 'posthog_context')(expr)) }}
{%- endmacro %}

{% macro default__pc_safe_cast_bigint(expr) -%}
    try_cast({{ expr }} as bigint)
{%- endmacro %}

{% macro postgres__pc_safe_cast_bigint(expr) -%}
    case when cast({{ expr }} as text) ~ '^\s*[-+]?[0-9]{1,18}\s*$' then cast(trim(cast({{ expr }} as text)) as bigint) end
{%- endmacro %}

{% macro pc_safe_cast_double(expr) -%}
    {{ return(adapter.dispatch('pc_safe_cast_double', 'posthog_context')(expr)) }}
{%- endmacro %}

{% macro default__pc_safe_cast_double(expr) -%}
    try_cast({{ expr }} as double)
{%- endmacro %}

{% macro postgres__pc_safe_cast_double(expr) -%}
    case when cast({{ expr }} as text) ~ '^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,3})?\s*$'
        then cast(trim(cast({{ expr }} as text)) as double precision) end
{%- endmacro %}

{% macro pc_safe_cast_timestamp(expr) -%}
    {{ return(adapter.dispatch('pc_safe_cast_timestamp', 'posthog_context')(expr)) }}
{%- endmacro %}

{% macro default__pc_safe_cast_timestamp(expr) -%}
    try_cast({{ expr }} as {{ pc_type_timestamp() }})
{%- endmacro %}

{% macro postgres__pc_safe_cast_timestamp(expr) -%}
    case when cast({{ expr }} as text) ~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$'
        then cast(cast({{ expr }} as text) as timestamp with time zone) end
{%- endmacro %}

{#- Ordered string aggregation. -#}
{% macro pc_string_agg(expr, separator, order_by) -%}
    {{ return(adapter.dispatch('pc_string_agg', 'posthog_context')(expr, separator, order_by)) }}
{%- endmacro %}

{% macro default__pc_string_agg(expr, separator, order_by) -%}
    string_agg({{ expr }}, {{ pc_literal(separator) }} order by {{ order_by }})
{%- endmacro %}

{#- Text type for model outputs. -#}
{% macro pc_type_text() -%}
    {{ return(adapter.dispatch('pc_type_text', 'posthog_context')()) }}
{%- endmacro %}

{% macro default__pc_type_text() -%}varchar{%- endmacro %}
{% macro postgres__pc_type_text() -%}text{%- endmacro %}

{#- Double-precision float type. -#}
{% macro pc_type_double() -%}
    {{ return(adapter.dispatch('pc_type_double', 'posthog_context')()) }}
{%- endmacro %}

{% macro default__pc_type_double() -%}double precision{%- endmacro %}

{#- md5 hex of a text expression (stable ids). -#}
{% macro pc_md5(expr) -%}
    md5(cast({{ expr }} as {{ pc_type_text() }}))
{%- endmacro %}
