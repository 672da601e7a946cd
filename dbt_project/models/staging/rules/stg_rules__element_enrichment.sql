-- Element enrichment: an element carrying `attribute` is described as `description`
-- (the token {base_type} stands for the element's base type, e.g. "button").
select
    cast(rule_id as {{ pc_type_text() }}) as rule_id,
    lower(cast(attribute as {{ pc_type_text() }})) as attribute,
    cast(description as {{ pc_type_text() }}) as description,
    coalesce(cast(priority as integer), 100) as priority
from {{ source('posthog_rules', 'element_enrichment') }}
where attribute is not null
