{#- Apache Spark variants of the dispatched helpers (dbt-spark; ANSI mode off, session time zone UTC).
    Spark has no ordered aggregates: ordered aggregation collects (sort keys, value) structs and
    sorts them with a comparator (NULLs last, like DuckDB), the value itself breaking ties. -#}

{#- ---------- types and casts ---------- -#}

{% macro spark__pc_type_text() -%}string{%- endmacro %}
{% macro spark__pc_type_timestamp() -%}timestamp{%- endmacro %}
{% macro spark__pc_type_double() -%}double{%- endmacro %}

{% macro spark__pc_safe_cast_bigint(expr) -%}
    case when cast({{ expr }} as string) rlike '^\\s*[-+]?[0-9]{1,18}\\s*$' then cast(trim(cast({{ expr }} as string)) as bigint) end
{%- endmacro %}

{% macro spark__pc_safe_cast_double(expr) -%}
    case when cast({{ expr }} as string) rlike '^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]{1,3})?\\s*$'
        then cast(trim(cast({{ expr }} as string)) as double) end
{%- endmacro %}

{% macro spark__pc_safe_cast_timestamp(expr) -%}
    case when cast({{ expr }} as string) rlike '^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?)?(Z|[+-]\\d{2}(:?\\d{2})?)?$'
        then cast(cast({{ expr }} as string) as timestamp) end
{%- endmacro %}

{#- ---------- ordered aggregation ---------- -#}

{#- "a, b desc" -> [(expr, is_desc), ...]; order-by lists here are plain columns. -#}
{% macro pc_spark_order_keys(order_by) -%}
    {%- set keys = [] -%}
    {%- for part in (order_by | string).split(',') -%}
        {%- set item = part | trim -%}
        {%- set low = item | lower -%}
        {%- if low.endswith(' desc') -%}
            {%- do keys.append((item[:-5] | trim, true)) -%}
        {%- elif low.endswith(' asc') -%}
            {%- do keys.append((item[:-4] | trim, false)) -%}
        {%- else -%}
            {%- do keys.append((item, false)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(keys) }}
{%- endmacro %}

{#- The group's values of value_expr as an array sorted by order_by (an aggregate expression).
    tie_break=false for values that cannot be compared (variants). -#}
{% macro pc_spark_sorted_values(value_expr, order_by, tie_break=true) -%}
    {%- set keys = pc_spark_order_keys(order_by) -%}
    transform(array_sort(collect_list(named_struct(
        {%- for expr, desc in keys %}'k{{ loop.index0 }}', {{ expr }}, {% endfor -%}
        'v', {{ value_expr }})),
        (pc_l, pc_r) -> case
            {%- for expr, desc in keys %}
            {%- set k = 'k' ~ loop.index0 %}
            when pc_l.{{ k }} is null and pc_r.{{ k }} is not null then 1
            when pc_l.{{ k }} is not null and pc_r.{{ k }} is null then -1
            when pc_l.{{ k }} < pc_r.{{ k }} then {{ '1' if desc else '-1' }}
            when pc_l.{{ k }} > pc_r.{{ k }} then {{ '-1' if desc else '1' }}
            {%- endfor %}
            {%- if tie_break %}
            when pc_l.v is null and pc_r.v is not null then 1
            when pc_l.v is not null and pc_r.v is null then -1
            when pc_l.v < pc_r.v then -1
            when pc_l.v > pc_r.v then 1
            {%- endif %}
            else 0 end),
        pc_x -> pc_x.v)
{%- endmacro %}

{% macro spark__pc_string_agg(expr, separator, order_by) -%}
    case when count({{ expr }}) > 0 then array_join({{ pc_spark_sorted_values(expr, order_by) }}, {{ pc_literal(separator) }}) end
{%- endmacro %}

{#- ---------- JSON ---------- -#}

{#- JSONPath with bracket notation, so keys such as "$session_id" are taken literally. -#}
{% macro spark__pc_json_str(json_text, key) -%}
    get_json_object({{ json_text }}, {{ pc_literal("$['" ~ key ~ "']") }})
{%- endmacro %}

{% macro spark__pc_json_str_by_key(json_text, key_expr) -%}
    get_json_object({{ json_text }}, concat('$[', chr(39), {{ key_expr }}, chr(39), ']'))
{%- endmacro %}

{#- JSON is text on Spark. pc_json_parse marks an expression as JSON text already (a comment the
    object builders recognise), so nested JSON is embedded as written, keys in their order. -#}
{% macro spark__pc_json_parse(text_expr) -%}
    /*pc_json*/({{ text_expr }})
{%- endmacro %}

{% macro spark__pc_json_to_text(json_expr) -%}
    {{ json_expr }}
{%- endmacro %}

{#- The JSON text of a value: marked JSON as is, anything else encoded by its type (NULL -> null). -#}
{% macro pc_spark_json_value(expr) -%}
    {%- if (expr | string).startswith('/*pc_json*/') -%}
    coalesce({{ expr }}, 'null')
    {%- else -%}
    substring(to_json(named_struct('v', {{ expr }}), map('ignoreNullFields', 'false')), 6,
        length(to_json(named_struct('v', {{ expr }}), map('ignoreNullFields', 'false'))) - 6)
    {%- endif -%}
{%- endmacro %}

{% macro spark__pc_json_object(pairs) -%}
    concat('{'
    {%- for k, v in pairs %}, {{ pc_literal((',' if not loop.first else '') ~ (k | tojson) ~ ':') }}, {{ pc_spark_json_value(v) }}{% endfor -%}
    , '}')
{%- endmacro %}

{% macro spark__pc_is_json_object(text_expr) -%}
    coalesce(substr(ltrim({{ text_expr }}), 1, 1) = '{' and try_parse_json({{ text_expr }}) is not null, false)
{%- endmacro %}

{#- json_expr is JSON text (from pc_json_object). -#}
{% macro spark__pc_json_array_agg(json_expr, order_by) -%}
    coalesce(concat('[', array_join({{ pc_spark_sorted_values(json_expr, order_by) }}, ',', 'null'), ']'), '[]')
{%- endmacro %}

{% macro spark__pattern_json_array_agg(json_expr, order_by) -%}
    {{ spark__pc_json_array_agg(json_expr, order_by) }}
{%- endmacro %}

{% macro spark__pc_json_value_array_agg(value_expr, order_by) -%}
    coalesce(to_json({{ pc_spark_sorted_values(value_expr, order_by) }}), '[]')
{%- endmacro %}

{#- Keys sorted; value_expr is a plain value or JSON text (pc_json_parse). -#}
{% macro spark__pc_json_object_agg(key_expr, value_expr) -%}
    concat('{', array_join(transform(array_sort(
        collect_list(named_struct('k', {{ pc_spark_json_value(key_expr) }}, 'v', {{ pc_spark_json_value(value_expr) }})),
        (pc_l, pc_r) -> case when pc_l.k < pc_r.k then -1 when pc_l.k > pc_r.k then 1 else 0 end),
        pc_e -> concat(pc_e.k, ':', pc_e.v)), ','), '}')
{%- endmacro %}

{#- (keys..., json_key, json_value) with the value as JSON text. -#}
{% macro spark__pc_json_each_rows(source, key_cols, json_col) -%}
    select {% for c in key_cols %}{{ c }}, {% endfor %}pc_e.key as json_key, to_json(pc_e.value) as json_value
    from {{ source }} as s, lateral variant_explode(try_parse_json(s.{{ json_col }})) as pc_e
{%- endmacro %}

{% macro spark__cohort_json_text_rows(source, key_cols, json_col) -%}
    select {% for c in key_cols %}s.{{ c }}, {% endfor %}
        cast(pc_e.json_key as string) as json_key,
        pc_e.json_text as json_text
    from {{ source }} as s
    lateral view explode(
        case when substr(ltrim(s.{{ json_col }}), 1, 1) = '{'
            then from_json(s.{{ json_col }}, 'map<string,string>') end
    ) pc_e as json_key, json_text
{%- endmacro %}

{% macro spark__cohort_json_array_rows(source, key_cols, json_col) -%}
    select {% for c in key_cols %}s.{{ c }}, {% endfor %}
        pc_e.element_text as element_text
    from {{ source }} as s
    lateral view explode(
        case when substr(ltrim(s.{{ json_col }}), 1, 1) = '['
            then from_json(s.{{ json_col }}, 'array<string>') end
    ) pc_e as element_text
{%- endmacro %}

{#- ---------- regular expressions (Java) ---------- -#}

{#- POSIX bracket classes of the shared patterns, in Java syntax. -#}
{% macro pc_spark_regex(pattern) -%}
    {%- set ns = namespace(p=pattern | string) -%}
    {%- for posix, java in [('[:space:]', '\\s'), ('[:cntrl:]', '\\p{Cntrl}'), ('[:alpha:]', '\\p{Alpha}'),
            ('[:digit:]', '\\d'), ('[:alnum:]', '\\p{Alnum}'), ('[:punct:]', '\\p{Punct}'),
            ('[:upper:]', '\\p{Upper}'), ('[:lower:]', '\\p{Lower}')] -%}
        {%- set ns.p = ns.p.replace(posix, java) -%}
    {%- endfor -%}
    {{ return(ns.p) }}
{%- endmacro %}

{% macro spark__pc_regex_extract(text_expr, pattern, group=1) -%}
    nullif(regexp_extract({{ text_expr }}, {{ pc_literal(pc_spark_regex(pattern)) }}, {{ group }}), '')
{%- endmacro %}

{% macro spark__pc_regex_match(text_expr, pattern) -%}
    ({{ text_expr }} rlike {{ pc_literal(pc_spark_regex(pattern)) }})
{%- endmacro %}

{#- Replacement back references \1 become Java's $1; a literal $ is escaped. -#}
{% macro spark__pc_regex_replace_all(text_expr, pattern, replacement) -%}
    {%- set repl = modules.re.sub('\\\\(\\d)', '$\\1', (replacement | string).replace('$', '\\$')) -%}
    regexp_replace({{ text_expr }}, {{ pc_literal(pc_spark_regex(pattern)) }}, {{ pc_literal(repl) }})
{%- endmacro %}

{% macro spark__pc_regex_match_rows(source, key_cols, text_col, pattern, ordinal_name, match_name) -%}
    select {% for c in key_cols %}pc_matches.{{ c }}, {% endfor %}
        cast(pc_m.pc_pos + 1 as integer) as {{ ordinal_name }},
        pc_m.pc_match as {{ match_name }}
    from (
        select {% for c in key_cols %}{{ c }}, {% endfor %}
            regexp_extract_all({{ text_col }}, {{ pc_literal(pc_spark_regex(pattern)) }}, 0) as pc_all
        from {{ source }}
    ) as pc_matches
    lateral view posexplode(pc_all) pc_m as pc_pos, pc_match
{%- endmacro %}

{% macro spark__cohort_regex_match_expr(text_expr, pattern_expr) -%}
    ({{ text_expr }} rlike {{ pattern_expr }})
{%- endmacro %}

{#- ---------- time (session time zone is UTC) ---------- -#}

{% macro spark__cohort_epoch_us(ts) -%}
    unix_micros({{ ts }})
{%- endmacro %}

{% macro spark__pc_epoch_seconds(ts) -%}
    (cast(unix_micros({{ ts }}) as double) / 1000000.0)
{%- endmacro %}

{% macro spark__pc_seconds_between(start_ts, end_ts) -%}
    (cast(unix_micros({{ end_ts }}) - unix_micros({{ start_ts }}) as double) / 1000000.0)
{%- endmacro %}

{% macro spark__pc_add_seconds(ts, seconds) -%}
    timestamp_micros(unix_micros({{ ts }}) + cast(({{ seconds }}) * 1000000.0 as bigint))
{%- endmacro %}

{% macro spark__pc_date_trunc_utc(part, ts) -%}
    date_trunc({{ pc_literal(part) }}, {{ ts }})
{%- endmacro %}

{% macro spark__pc_iso_timestamp(ts) -%}
    date_format({{ ts }}, {{ pc_literal("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'") }})
{%- endmacro %}

{% macro spark__pc_minute_text(ts) -%}
    date_format({{ ts }}, 'yyyy-MM-dd HH:mm')
{%- endmacro %}

{#- dbt's own literal quoting (unit-test fixtures, seeds) on Spark: a backslash is an escape
    character in Spark string literals, so it is doubled too (dbt-spark only escapes quotes). -#}
{% macro spark__escape_single_quotes(expression) -%}
    {{ expression | replace('\\', '\\\\') | replace("'", "\\'") }}
{%- endmacro %}
