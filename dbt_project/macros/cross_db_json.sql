{#- JSON helpers. Raw JSON lives as text; every engine-specific access is here.
    Outputs that leave a model as JSON are text (pc_json_to_text). -#}

{#- Text value of a top-level key given at compile time (NULL when absent or JSON null). -#}
{% macro pc_json_str(json_text, key) -%}
    {{ return(adapter.dispatch('pc_json_str', 'posthog_context')(json_text, key)) }}
{%- endmacro %}

{% macro default__pc_json_str(json_text, key) -%}
    json_extract_string({{ json_text }}, {{ pc_literal('$."' ~ key ~ '"') }})
{%- endmacro %}

{% macro duckdb__pc_json_str(json_text, key) -%}
    {#- JSON pointer avoids JSONPath parsing of keys that start with "$". -#}
    json_extract_string({{ json_text }}, {{ pc_literal('/' ~ key.replace('~', '~0').replace('/', '~1')) }})
{%- endmacro %}

{% macro postgres__pc_json_str(json_text, key) -%}
    (cast({{ json_text }} as jsonb) ->> {{ pc_literal(key) }})
{%- endmacro %}

{#- Several top-level keys as text columns, empty strings as NULL: one `nullif(value, '') as alias`
    line per (key, alias) pair. DuckDB parses the document once for all keys (a list of JSON
    pointers; the optimizer shares the list between the columns), which is ~5x faster than one
    parse per key on event properties. -#}
{% macro pc_json_str_columns(json_text, key_aliases) -%}
    {{ return(adapter.dispatch('pc_json_str_columns', 'posthog_context')(json_text, key_aliases)) }}
{%- endmacro %}

{% macro default__pc_json_str_columns(json_text, key_aliases) -%}
    {%- for key, alias in key_aliases %}
    nullif({{ pc_json_str(json_text, key) }}, '') as {{ alias }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{% macro duckdb__pc_json_str_columns(json_text, key_aliases) -%}
    {%- set pointers = [] %}
    {%- for key, alias in key_aliases %}
        {%- do pointers.append(pc_literal('/' ~ key.replace('~', '~0').replace('/', '~1'))) %}
    {%- endfor %}
    {%- set values = 'json_extract_string(' ~ json_text ~ ', [' ~ pointers | join(', ') ~ '])' %}
    {%- for key, alias in key_aliases %}
    nullif({{ values }}[{{ loop.index }}], '') as {{ alias }}{{ ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Text value of a top-level key that comes from a column (e.g. a label template part). -#}
{% macro pc_json_str_by_key(json_text, key_expr) -%}
    {{ return(adapter.dispatch('pc_json_str_by_key', 'posthog_context')(json_text, key_expr)) }}
{%- endmacro %}

{% macro default__pc_json_str_by_key(json_text, key_expr) -%}
    json_extract_string({{ json_text }}, '$."' || {{ key_expr }} || '"')
{%- endmacro %}

{% macro duckdb__pc_json_str_by_key(json_text, key_expr) -%}
    json_extract_string({{ json_text }}, '/' || replace(replace({{ key_expr }}, '~', '~0'), '/', '~1'))
{%- endmacro %}

{% macro postgres__pc_json_str_by_key(json_text, key_expr) -%}
    (cast({{ json_text }} as jsonb) ->> {{ key_expr }})
{%- endmacro %}

{#- A JSON object from (key, expression) pairs; keys are compile-time constants. -#}
{% macro pc_json_object(pairs) -%}
    {{ return(adapter.dispatch('pc_json_object', 'posthog_context')(pairs)) }}
{%- endmacro %}

{% macro default__pc_json_object(pairs) -%}
    json_object({% for k, v in pairs %}{{ pc_literal(k) }}, {{ v }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{% macro postgres__pc_json_object(pairs) -%}
    jsonb_build_object({% for k, v in pairs %}{{ pc_literal(k) }}, {{ v }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- Aggregate JSON values (from pc_json_object / pc_json_parse) into a JSON array text, ordered; '[]' when empty. -#}
{% macro pc_json_array_agg(json_expr, order_by) -%}
    {{ return(adapter.dispatch('pc_json_array_agg', 'posthog_context')(json_expr, order_by)) }}
{%- endmacro %}

{% macro default__pc_json_array_agg(json_expr, order_by) -%}
    coalesce(cast(to_json(list({{ json_expr }} order by {{ order_by }})) as varchar), '[]')
{%- endmacro %}

{% macro postgres__pc_json_array_agg(json_expr, order_by) -%}
    coalesce(cast(jsonb_agg({{ json_expr }} order by {{ order_by }}) as text), '[]')
{%- endmacro %}

{#- Aggregate plain values into a JSON array text, ordered; '[]' when empty. -#}
{% macro pc_json_value_array_agg(value_expr, order_by) -%}
    {{ return(adapter.dispatch('pc_json_value_array_agg', 'posthog_context')(value_expr, order_by)) }}
{%- endmacro %}

{% macro default__pc_json_value_array_agg(value_expr, order_by) -%}
    coalesce(cast(to_json(list({{ value_expr }} order by {{ order_by }})) as varchar), '[]')
{%- endmacro %}

{% macro postgres__pc_json_value_array_agg(value_expr, order_by) -%}
    coalesce(cast(jsonb_agg(to_jsonb({{ value_expr }}) order by {{ order_by }}) as text), '[]')
{%- endmacro %}

{#- Aggregate (key, value) pairs into a JSON object text with keys in sorted order (deterministic);
    callers pass distinct, non-NULL keys; '{}' when empty. -#}
{% macro pc_json_object_agg(key_expr, value_expr) -%}
    {{ return(adapter.dispatch('pc_json_object_agg', 'posthog_context')(key_expr, value_expr)) }}
{%- endmacro %}

{% macro default__pc_json_object_agg(key_expr, value_expr) -%}
    coalesce(cast(to_json(map(list({{ key_expr }} order by {{ key_expr }}), list({{ value_expr }} order by {{ key_expr }}))) as varchar), '{}')
{%- endmacro %}

{% macro postgres__pc_json_object_agg(key_expr, value_expr) -%}
    coalesce(cast(jsonb_object_agg({{ key_expr }}, {{ value_expr }}) filter (where {{ key_expr }} is not null) as text), '{}')
{%- endmacro %}

{#- JSON text → a JSON value usable inside pc_json_object. -#}
{% macro pc_json_parse(text_expr) -%}
    {{ return(adapter.dispatch('pc_json_parse', 'posthog_context')(text_expr)) }}
{%- endmacro %}

{% macro default__pc_json_parse(text_expr) -%}
    json({{ text_expr }})
{%- endmacro %}

{% macro postgres__pc_json_parse(text_expr) -%}
    cast({{ text_expr }} as jsonb)
{%- endmacro %}

{#- A JSON value → text. -#}
{% macro pc_json_to_text(json_expr) -%}
    {{ return(adapter.dispatch('pc_json_to_text', 'posthog_context')(json_expr)) }}
{%- endmacro %}

{% macro default__pc_json_to_text(json_expr) -%}
    cast({{ json_expr }} as varchar)
{%- endmacro %}

{% macro postgres__pc_json_to_text(json_expr) -%}
    cast({{ json_expr }} as text)
{%- endmacro %}

{#- Is the text a valid JSON object? (quarantine upstream guarantees this; this guards staging.) -#}
{% macro pc_is_json_object(text_expr) -%}
    {{ return(adapter.dispatch('pc_is_json_object', 'posthog_context')(text_expr)) }}
{%- endmacro %}

{% macro default__pc_is_json_object(text_expr) -%}
    coalesce(json_valid({{ text_expr }}) and json_type({{ text_expr }}) = 'OBJECT', false)
{%- endmacro %}

{% macro postgres__pc_is_json_object(text_expr) -%}
    coalesce(substr(ltrim({{ text_expr }}), 1, 1) = '{', false)
{%- endmacro %}

{#- Rows (keys..., json_key, json_value_text) for every top-level key of a JSON object text column. -#}
{% macro pc_json_each_rows(source, key_cols, json_col) -%}
    {{ return(adapter.dispatch('pc_json_each_rows', 'posthog_context')(source, key_cols, json_col)) }}
{%- endmacro %}

{% macro default__pc_json_each_rows(source, key_cols, json_col) -%}
    select {% for c in key_cols %}{{ c }}, {% endfor %}j.key as json_key, j.value as json_value
    from {{ source }} s, json_each(s.{{ json_col }}) as j
{%- endmacro %}

{% macro postgres__pc_json_each_rows(source, key_cols, json_col) -%}
    select {% for c in key_cols %}{{ c }}, {% endfor %}j.key as json_key, cast(j.value as text) as json_value
    from {{ source }} s cross join lateral jsonb_each(cast(s.{{ json_col }} as jsonb)) as j
{%- endmacro %}
