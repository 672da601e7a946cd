-- Label templates split into ordered parts: literal text or a property key to look up.
select
    cast(event_name as {{ pc_type_text() }}) as event_name,
    cast(part_index as integer) as part_index,
    lower(cast(part_kind as {{ pc_type_text() }})) as part_kind,
    coalesce(cast(value as {{ pc_type_text() }}), '') as part_value
from {{ source('posthog_rules', 'label_template_parts') }}
