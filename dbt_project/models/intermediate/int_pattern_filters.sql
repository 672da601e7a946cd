-- Positive and negative filters of the pattern rules (posthog_rules.pattern_filters).
-- Rows with the same (code, role, field) are alternatives (OR); different fields must all hold (AND).
with source_filters as (
    {{ cohort_pattern_input(source('posthog_rules', 'pattern_filters'), [
        ('code', 'text'), ('role', 'text'), ('field', 'text'), ('value', 'text')]) }}
)

select distinct
    code,
    lower(role) as role,
    lower(field) as field,
    value,
    lower(value) as value_lower
from source_filters
where code is not null
    and lower(role) in ('positive', 'negative')
    and lower(field) in (
        'event_type', 'action_type', 'event_name', 'page_path_prefix', 'page_path_equals', 'label_contains'
    )
    and value is not null
