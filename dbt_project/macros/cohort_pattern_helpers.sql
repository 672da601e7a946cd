{#- Helpers for the pattern and cohort models. Engine-specific SQL lives only in the dispatched
    variants below; the general JSON/regex/time helpers come from the cross_db_* macro files. -#}

{#- The cohort reference time ("now" of every cohort window) as a SQL timestamp literal.
    COHORT_REFERENCE_TIME (ISO-8601; naive means UTC) makes a run reproducible; unset or "now"
    uses the moment this dbt invocation started, so every model of one run shares one "now". -#}
{% macro cohort_reference_time() -%}
    {%- set raw = var('cohort_reference_time', '') | string | trim -%}
    {%- if raw in ('', 'now', 'None') -%}
        {%- set ts = run_started_at.strftime('%Y-%m-%dT%H:%M:%S.%f') ~ '+00:00' -%}
    {%- else -%}
        {%- set text = raw.replace('Z', '+00:00').replace('z', '+00:00') -%}
        {%- set parsed = none -%}
        {%- if modules.re.match('^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?([+-]\d{2}:?\d{2})?$', text) is none -%}
            {{ exceptions.raise_compiler_error("COHORT_REFERENCE_TIME must be an ISO-8601 date/time such as 2026-11-23T00:00:00Z (or 'now'); got '" ~ raw ~ "'") }}
        {%- endif -%}
        {%- set ts = text if modules.re.search('[+-]\d{2}:?\d{2}$', text) else text ~ '+00:00' -%}
    {%- endif -%}
    cast('{{ ts }}' as {{ pc_type_timestamp() }})
{%- endmacro %}

{#- Integer microseconds since the epoch (exact, so window edges compare exactly). -#}
{% macro cohort_epoch_us(ts) -%}
    {{ return(adapter.dispatch('cohort_epoch_us', 'posthog_context')(ts)) }}
{%- endmacro %}

{% macro default__cohort_epoch_us(ts) -%}
    epoch_us({{ ts }})
{%- endmacro %}

{% macro postgres__cohort_epoch_us(ts) -%}
    cast(extract(epoch from {{ ts }}) * 1000000 as bigint)
{%- endmacro %}

{#- Does text match a regular expression held in a column? NULL text gives NULL. -#}
{% macro cohort_regex_match_expr(text_expr, pattern_expr) -%}
    {{ return(adapter.dispatch('cohort_regex_match_expr', 'posthog_context')(text_expr, pattern_expr)) }}
{%- endmacro %}

{% macro default__cohort_regex_match_expr(text_expr, pattern_expr) -%}
    regexp_matches({{ text_expr }}, {{ pattern_expr }})
{%- endmacro %}

{% macro postgres__cohort_regex_match_expr(text_expr, pattern_expr) -%}
    ({{ text_expr }} ~ {{ pattern_expr }})
{%- endmacro %}

{#- Rows (keys..., json_key, json_text) for every top-level key of a JSON object text column, with
    the value as plain text: strings unquoted, numbers/booleans as written, objects/arrays as JSON,
    JSON null as SQL NULL. -#}
{% macro cohort_json_text_rows(source, key_cols, json_col) -%}
    {{ return(adapter.dispatch('cohort_json_text_rows', 'posthog_context')(source, key_cols, json_col)) }}
{%- endmacro %}

{% macro default__cohort_json_text_rows(source, key_cols, json_col) -%}
    select {% for c in key_cols %}s.{{ c }}, {% endfor %}
        cast(j.key as varchar) as json_key,
        case
            when j.type = 'NULL' then null
            when j.type = 'VARCHAR' then json_extract_string(j.value, '$')
            else cast(j.value as varchar)
        end as json_text
    from {{ source }} as s, json_each(s.{{ json_col }}) as j
    where json_valid(s.{{ json_col }}) and json_type(s.{{ json_col }}) in ('OBJECT', 'ARRAY')
{%- endmacro %}

{% macro postgres__cohort_json_text_rows(source, key_cols, json_col) -%}
    select {% for c in key_cols %}s.{{ c }}, {% endfor %}
        cast(j.key as text) as json_key,
        case when jsonb_typeof(j.value) = 'null' then null else j.value #>> '{}' end as json_text
    from {{ source }} as s
    cross join lateral jsonb_each(
        case when jsonb_typeof(cast(s.{{ json_col }} as jsonb)) = 'object'
            then cast(s.{{ json_col }} as jsonb) else '{}'::jsonb end
    ) as j
{%- endmacro %}

{#- Elements of a JSON array text column as text rows (keys..., element_text). -#}
{% macro cohort_json_array_rows(source, key_cols, json_col) -%}
    {{ return(adapter.dispatch('cohort_json_array_rows', 'posthog_context')(source, key_cols, json_col)) }}
{%- endmacro %}

{% macro default__cohort_json_array_rows(source, key_cols, json_col) -%}
    select {% for c in key_cols %}s.{{ c }}, {% endfor %}
        case
            when j.type = 'NULL' then null
            when j.type = 'VARCHAR' then json_extract_string(j.value, '$')
            else cast(j.value as varchar)
        end as element_text
    from {{ source }} as s, json_each(s.{{ json_col }}) as j
    where s.{{ json_col }} is not null and json_valid(s.{{ json_col }})
        and json_type(s.{{ json_col }}) = 'ARRAY'
{%- endmacro %}

{% macro postgres__cohort_json_array_rows(source, key_cols, json_col) -%}
    select {% for c in key_cols %}s.{{ c }}, {% endfor %}
        case when jsonb_typeof(j.value) = 'null' then null else j.value #>> '{}' end as element_text
    from {{ source }} as s
    cross join lateral jsonb_array_elements(
        case when s.{{ json_col }} is not null and jsonb_typeof(cast(s.{{ json_col }} as jsonb)) = 'array'
            then cast(s.{{ json_col }} as jsonb) else '[]'::jsonb end
    ) as j
{%- endmacro %}

{#- A source table with the given columns, robust to an input that is not there yet: when the
    relation does not exist (a loader wrote no rows, so dlt created no table) or lacks a column
    (dlt drops columns that were always null), the missing parts become typed NULLs / no rows.
    `columns` is a list of (name, type) with type one of text, bigint, int, bool. -#}
{% macro cohort_pattern_input(relation, columns) -%}
    {%- set types = {'text': pc_type_text(), 'bigint': 'bigint', 'int': 'integer', 'bool': 'boolean'} -%}
    {%- set existing = none -%}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- set existing = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
        {%- if existing is not none -%}
            {%- for col in adapter.get_columns_in_relation(existing) -%}
                {%- do present.append(col.name | lower) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {%- if existing is not none %}
    select
        {%- for name, kind in columns %}
        {% if name | lower in present -%}
        cast({{ adapter.quote(name) }} as {{ types[kind] }})
        {%- else -%}
        cast(null as {{ types[kind] }})
        {%- endif %} as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ relation }}
    {%- else %}
    select
        {%- for name, kind in columns %}
        cast(null as {{ types[kind] }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
    where 1 = 0
    {%- endif %}
{%- endmacro %}

{#- Comparison of a count with a PostHog count operator (gte, lte, gt, lt, exact, eq). -#}
{% macro cohort_count_compare(count_expr, operator_expr, value_expr) -%}
    (case {{ operator_expr }}
        when 'gte' then {{ count_expr }} >= {{ value_expr }}
        when 'lte' then {{ count_expr }} <= {{ value_expr }}
        when 'gt' then {{ count_expr }} > {{ value_expr }}
        when 'lt' then {{ count_expr }} < {{ value_expr }}
        when 'exact' then {{ count_expr }} = {{ value_expr }}
        when 'eq' then {{ count_expr }} = {{ value_expr }}
        else {{ count_expr }} >= coalesce({{ value_expr }}, 1)
    end)
{%- endmacro %}

{#- How many fold levels the cohort models generate: the deepest node in the data, but never fewer
    than `cohort_min_fold_depth` (so unit-test fixtures, which are not in the warehouse, fold too). -#}
{% macro cohort_fold_depth() -%}
    {%- set floor = var('cohort_min_fold_depth', 12) | int -%}
    {%- set depth = floor -%}
    {%- if execute and graph.get('nodes') -%}
        {%- set tree_node = graph.nodes.values() | selectattr('name', 'equalto', 'int_cohort_tree') | selectattr('resource_type', 'equalto', 'model') | list -%}
        {%- if tree_node -%}
            {%- set tn = tree_node[0] -%}
            {%- set rel = adapter.get_relation(database=tn.database, schema=tn.schema, identifier=tn.alias) -%}
            {%- if rel is not none -%}
                {%- set result = run_query('select max(depth) from ' ~ rel) -%}
                {%- if result and result.rows and result.rows[0][0] is not none -%}
                    {%- set depth = [floor, result.rows[0][0] | int] | max -%}
                {%- endif -%}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(depth) }}
{%- endmacro %}

{#- Ordered JSON array text of JSON values (e.g. from pc_json_object); '[]' when empty. -#}
{% macro pattern_json_array_agg(json_expr, order_by) -%}
    {{ return(adapter.dispatch('pattern_json_array_agg', 'posthog_context')(json_expr, order_by)) }}
{%- endmacro %}

{% macro default__pattern_json_array_agg(json_expr, order_by) -%}
    coalesce(cast(to_json(list({{ json_expr }} order by {{ order_by }})) as varchar), '[]')
{%- endmacro %}

{% macro postgres__pattern_json_array_agg(json_expr, order_by) -%}
    coalesce(cast(jsonb_agg({{ json_expr }} order by {{ order_by }}) as text), '[]')
{%- endmacro %}
