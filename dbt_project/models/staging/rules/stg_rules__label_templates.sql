-- Label templates for custom events (the original text, for display and docs only).
select
    cast(event_name as {{ pc_type_text() }}) as event_name,
    cast(template as {{ pc_type_text() }}) as template
from {{ source('posthog_rules', 'label_templates') }}
