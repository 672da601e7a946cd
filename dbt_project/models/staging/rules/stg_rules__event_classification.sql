-- Classification rules: exact event names, autocapture $event_type values and name keywords.
select
    cast(rule_id as {{ pc_type_text() }}) as rule_id,
    lower(cast(match_kind as {{ pc_type_text() }})) as match_kind,
    cast(match_value as {{ pc_type_text() }}) as match_value,
    lower(cast(match_value as {{ pc_type_text() }})) as match_value_lower,
    cast(event_type as {{ pc_type_text() }}) as event_type,
    cast(action_type as {{ pc_type_text() }}) as action_type,
    coalesce(cast(priority as integer), 100) as priority
from {{ source('posthog_rules', 'event_classification') }}
where match_value is not null and match_value <> ''
