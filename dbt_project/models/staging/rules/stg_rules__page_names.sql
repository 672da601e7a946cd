-- Page naming rules: a path equal to, or starting with, `path` gets `page_name`.
select
    cast(rule_id as {{ pc_type_text() }}) as rule_id,
    lower(cast(match_kind as {{ pc_type_text() }})) as match_kind,
    cast(path as {{ pc_type_text() }}) as path,
    cast(page_name as {{ pc_type_text() }}) as page_name,
    coalesce(cast(priority as integer), 100) as priority
from {{ source('posthog_rules', 'page_names') }}
where path is not null and page_name is not null
