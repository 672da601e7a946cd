-- Enabled pattern rules from the rules tables (posthog_rules.pattern_rules), typed.
-- Missing table or columns (no rules loaded yet) give no rows instead of a failed build.
with source_rules as (
    {{ cohort_pattern_input(source('posthog_rules', 'pattern_rules'), [
        ('code', 'text'), ('severity', 'text'), ('description', 'text'), ('min_count', 'bigint'),
        ('time_window_seconds', 'bigint'), ('negative_window_seconds', 'bigint'),
        ('min_duration_seconds', 'bigint'), ('max_duration_seconds', 'bigint'),
        ('min_events', 'bigint'), ('max_events', 'bigint'),
        ('min_pageviews', 'bigint'), ('max_pageviews', 'bigint'), ('enabled', 'bool')]) }}
)

select
    code,
    upper(severity) as severity,
    description,
    greatest(coalesce(min_count, 1), 1) as min_count,
    time_window_seconds,
    negative_window_seconds,
    min_duration_seconds,
    max_duration_seconds,
    min_events,
    max_events,
    min_pageviews,
    max_pageviews
from source_rules
where code is not null
    and coalesce(enabled, true)
