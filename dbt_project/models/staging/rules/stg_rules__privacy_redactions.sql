-- Property keys that must never reach labels, prompts or exports (matched case-insensitively).
select distinct
    lower(cast(property_key as {{ pc_type_text() }})) as property_key,
    cast(reason as {{ pc_type_text() }}) as reason
from {{ source('posthog_rules', 'privacy_redactions') }}
where property_key is not null
