-- One row: md5 fingerprints of the rule rows (and settings) that shape each enriched event.
-- The incremental models store the fingerprint they were built with; when it no longer matches,
-- their next run recomputes every row, so a rule edit needs no --full-refresh.
-- Each rule row becomes a string of length-prefixed fields ("5:click", "~" for null), so no
-- value can imitate a field boundary; rows are sorted before hashing, so row order, reloads and
-- dlt's own columns leave the result unchanged.
{{ config(materialized='table') }}
{%- set text = pc_type_text() -%}
{%- set inputs = [
    ('element_enrichment', 'stg_rules__element_enrichment', ['rule_id', 'attribute', 'description', 'priority']),
    ('event_classification', 'stg_rules__event_classification', ['rule_id', 'match_kind', 'match_value', 'event_type', 'action_type', 'priority']),
    ('page_names', 'stg_rules__page_names', ['rule_id', 'match_kind', 'path', 'page_name', 'priority']),
    ('label_templates', 'stg_rules__label_templates', ['event_name', 'template']),
    ('label_template_parts', 'stg_rules__label_template_parts', ['event_name', 'part_index', 'part_kind', 'part_value']),
    ('privacy_redactions', 'stg_rules__privacy_redactions', ['property_key', 'reason']),
] -%}
{#- Pattern rules shape only fct_user_patterns: a fingerprint of their own. -#}
{%- set pattern_inputs = [
    ('pattern_rules', 'int_pattern_rules', ['code', 'severity', 'description', 'min_count', 'time_window_seconds', 'negative_window_seconds', 'min_duration_seconds', 'max_duration_seconds', 'min_events', 'max_events', 'min_pageviews', 'max_pageviews']),
    ('pattern_filters', 'int_pattern_filters', ['code', 'role', 'field', 'value']),
] -%}
{#- Settings that change labels or sessions count as rules too. -#}
{%- set settings = 'label_max_length=' ~ pc_int_var('label_max_length')
    ~ ';session_idle_minutes=' ~ pc_int_var('session_idle_minutes')
    ~ ';session_max_hours=' ~ pc_int_var('session_max_hours') %}
{%- set digests = [] %}
{%- for name, model, columns in inputs %}{% do digests.append(name ~ '_digest.digest') %}{% endfor %}

with
{%- for name, model, columns in inputs + pattern_inputs %}
{%- set fields = [] %}
{%- for column in columns %}
    {%- do fields.append("coalesce(cast(length(cast(" ~ column ~ " as " ~ text ~ ")) as " ~ text ~ ") || ':' || cast(" ~ column ~ " as " ~ text ~ "), '~')") %}
{%- endfor %}
{{ name }}_rows as (
    select
        {{ fields | join('\n        || ') }} as row_text
    from {{ ref(model) }}
),

{{ name }}_digest as (
    select
        count(*) as row_count,
        {{ pc_md5(pc_literal(name ~ '=') ~ " || coalesce(" ~ pc_string_agg('row_text', ';', 'row_text') ~ ", '')") }} as digest
    from {{ name }}_rows
),
{% endfor %}

combined as (
    select
        element_enrichment_digest.digest as element_rules_fingerprint,
        {{ pc_md5("pattern_rules_digest.digest || '|' || pattern_filters_digest.digest") }} as pattern_rules_fingerprint,
        {{ pc_md5(pc_literal(settings) ~ " || '|' || " ~ digests | join(" || '|' || ")) }} as rules_fingerprint,
        {% for name, model, columns in inputs -%}
        {{ name }}_digest.row_count{% if not loop.last %} + {% endif %}
        {%- endfor %} as rule_row_count
    from element_enrichment_digest
    {%- for name, model, columns in (inputs + pattern_inputs)[1:] %}
    cross join {{ name }}_digest
    {%- endfor %}
)

select
    rules_fingerprint,
    element_rules_fingerprint,
    pattern_rules_fingerprint,
    cast(rule_row_count as bigint) as rule_row_count
from combined
