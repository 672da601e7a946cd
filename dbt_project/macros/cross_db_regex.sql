{#- Regular expressions. Patterns are written in the subset shared by RE2 (DuckDB) and
    PostgreSQL AREs: classes, (?:...), greedy quantifiers, \\ escapes inside brackets. -#}

{#- Capture group `group` of the first match, NULL when there is no match. -#}
{% macro pc_regex_extract(text_expr, pattern, group=1) -%}
    {{ return(adapter.dispatch('pc_regex_extract', 'posthog_context')(text_expr, pattern, group)) }}
{%- endmacro %}

{% macro default__pc_regex_extract(text_expr, pattern, group=1) -%}
    nullif(regexp_extract({{ text_expr }}, {{ pc_literal(pattern) }}, {{ group }}), '')
{%- endmacro %}

{% macro postgres__pc_regex_extract(text_expr, pattern, group=1) -%}
    nullif((regexp_match({{ text_expr }}, {{ pc_literal(pattern) }}))[{{ group }}], '')
{%- endmacro %}

{#- Does the text contain a match? NULL text gives NULL. -#}
{% macro pc_regex_match(text_expr, pattern) -%}
    {{ return(adapter.dispatch('pc_regex_match', 'posthog_context')(text_expr, pattern)) }}
{%- endmacro %}

{% macro default__pc_regex_match(text_expr, pattern) -%}
    regexp_matches({{ text_expr }}, {{ pc_literal(pattern) }})
{%- endmacro %}

{% macro postgres__pc_regex_match(text_expr, pattern) -%}
    ({{ text_expr }} ~ {{ pc_literal(pattern) }})
{%- endmacro %}

{#- Replace every match (replacement may use \1 back references). -#}
{% macro pc_regex_replace_all(text_expr, pattern, replacement) -%}
    {{ return(adapter.dispatch('pc_regex_replace_all', 'posthog_context')(text_expr, pattern, replacement)) }}
{%- endmacro %}

{% macro default__pc_regex_replace_all(text_expr, pattern, replacement) -%}
    regexp_replace({{ text_expr }}, {{ pc_literal(pattern) }}, {{ pc_literal(replacement) }}, 'g')
{%- endmacro %}

{#- One row per match of `pattern` in `text_col`: the key columns, a 1-based ordinal and the
    whole match. `source` is a relation or CTE name. Garbage simply matches less. -#}
{% macro pc_regex_match_rows(source, key_cols, text_col, pattern, ordinal_name='match_index', match_name='match_text') -%}
    {{ return(adapter.dispatch('pc_regex_match_rows', 'posthog_context')(source, key_cols, text_col, pattern, ordinal_name, match_name)) }}
{%- endmacro %}

{% macro default__pc_regex_match_rows(source, key_cols, text_col, pattern, ordinal_name, match_name) -%}
    select {% for c in key_cols %}{{ c }}, {% endfor %}
        cast(generate_subscripts(matches, 1) as integer) as {{ ordinal_name }},
        unnest(matches) as {{ match_name }}
    from (
        select {% for c in key_cols %}{{ c }}, {% endfor %}
            regexp_extract_all({{ text_col }}, {{ pc_literal(pattern) }}) as matches
        from {{ source }}
    ) as pc_matches
{%- endmacro %}

{% macro postgres__pc_regex_match_rows(source, key_cols, text_col, pattern, ordinal_name, match_name) -%}
    select {% for c in key_cols %}s.{{ c }}, {% endfor %}
        cast(m.ord as integer) as {{ ordinal_name }},
        m.groups[1] as {{ match_name }}
    from {{ source }} as s
    cross join lateral regexp_matches(s.{{ text_col }}, {{ pc_literal('(' ~ pattern ~ ')') }}, 'g')
        with ordinality as m(groups, ord)
{%- endmacro %}
