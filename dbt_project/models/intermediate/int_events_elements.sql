-- elements_chain parsed in SQL (grammar: elements joined by ';', the clicked element first;
-- element = tag(.class)* ':' then key="value" attributes with no separator, quotes escaped \").
-- Garbage and unbalanced quotes only make the regexes match less; nothing here can fail.
-- Incremental: only events staged since the last run are parsed, unless the element enrichment
-- rules changed since the table was built (element_rules_fingerprint differs): then every chain
-- is parsed again, so a rule edit needs no --full-refresh. A table built before the column existed
-- gets it added empty, which counts as changed.
{{
    config(
        materialized='incremental',
        unique_key='event_uuid',
        on_schema_change='append_new_columns',
        **pc_incremental_config('event_date')
    )
}}
{%- set output_columns = [
    'event_uuid', 'element_tag', 'element_text', 'element_href', 'element_id', 'element_classes',
    'element_attributes', 'ancestor_tags', 'element_base_type', 'element_description', 'source_loaded_at',
    'element_rules_fingerprint', 'event_date'] %}
{%- set element_pattern -%}(?:[^;"\\]|\\.|"(?:[^"\\]|\\.)*")+{%- endset -%}
{%- set pair_pattern -%}[A-Za-z0-9_-]+="(?:[^"\\]|\\.)*"{%- endset %}

with current_rules as (
    select element_rules_fingerprint from {{ ref('int_rules_fingerprint') }}
),

{% if is_incremental() %}
rules_changed as (
    {{ pc_rules_changed('element_rules_fingerprint') }}
),
{% endif %}

chains as (
    select event_uuid, elements_chain, loaded_at, event_date
    from {{ ref('stg_posthog__events') }}
    where elements_chain <> ''
    {% if is_incremental() %}
        and (
            loaded_at > (select coalesce(max(source_loaded_at), cast('1970-01-01' as {{ pc_type_timestamp() }})) from {{ this }})
            or (select changed from rules_changed)
        )
    {% endif %}
),

elements as (
    {{ pc_regex_match_rows('chains', ['event_uuid'], 'elements_chain', element_pattern, 'element_index', 'element_raw') }}
),

element_heads as (
    select
        event_uuid,
        element_index,
        element_raw,
        coalesce(
            {{ pc_regex_extract('element_raw', '^([^"]*):[A-Za-z0-9_-]+="') }},
            case when element_raw like '%:' then substr(element_raw, 1, length(element_raw) - 1) else element_raw end
        ) as head
    from elements
),

element_tags as {{ pc_materialized() }} (
    select
        event_uuid,
        element_index,
        element_raw,
        lower({{ pc_regex_extract('head', '^([A-Za-z][A-Za-z0-9-]*)') }}) as tag,
        nullif(trim(replace({{ pc_regex_extract('head', '^[A-Za-z0-9-]*[.](.*)$') }}, '.', ' ')), '') as classes
    from element_heads
),

-- Attributes are only needed near the target and where capture attributes sit.
attribute_sources as (
    select event_uuid, element_index, element_raw
    from element_tags
    where element_index <= 3 or element_raw like '%data-ph-capture-attribute-%'
),

pairs as (
    {{ pc_regex_match_rows('attribute_sources', ['event_uuid', 'element_index'], 'element_raw', pair_pattern, 'pair_index', 'pair_raw') }}
),

attributes as {{ pc_materialized() }} (
    select
        event_uuid,
        element_index,
        pair_index,
        case when substr(pair_key, 1, 6) = 'attr__' then lower(substr(pair_key, 7))
             when pair_key = 'attr_id' then 'id'
             else lower(pair_key) end as attribute_name,
        pair_key,
        replace(replace(pair_value, {{ pc_literal('\\"') }}, '"'), {{ pc_literal('\\\\') }}, {{ pc_literal('\\') }}) as attribute_value
    from (
        select
            event_uuid,
            element_index,
            pair_index,
            {{ pc_regex_extract('pair_raw', '^([A-Za-z0-9_-]+)="') }} as pair_key,
            substr(pair_raw, position('="' in pair_raw) + 2, length(pair_raw) - position('="' in pair_raw) - 2) as pair_value
        from pairs
    ) as split_pairs
),

-- Only the clicked element and the two above it are ever read for text, href, id or type, so only
-- those are aggregated: at 1M events that halves the rows this step holds and lets a full build
-- run within a 600 MB DuckDB memory limit (all elements: over 800 MB, out of memory).
per_element as (
    select
        element_tags.event_uuid,
        element_tags.element_index,
        element_tags.tag,
        element_tags.classes,
        max(case when attributes.pair_key = 'text' then attributes.attribute_value end) as text_value,
        max(case when attributes.attribute_name = 'href' then attributes.attribute_value end) as href,
        max(case when attributes.attribute_name = 'id' then attributes.attribute_value end) as element_id,
        max(case when attributes.attribute_name = 'alt' then attributes.attribute_value end) as alt,
        max(case when attributes.attribute_name = 'aria-label' then attributes.attribute_value end) as aria_label,
        max(case when attributes.attribute_name = 'title' then attributes.attribute_value end) as title,
        max(case when attributes.attribute_name = 'name' then attributes.attribute_value end) as name_attr,
        max(case when attributes.attribute_name = 'type' then lower(attributes.attribute_value) end) as type_attr
    from element_tags
    left join attributes
        on attributes.event_uuid = element_tags.event_uuid
        and attributes.element_index = element_tags.element_index
        and (attributes.pair_key = 'text'
            or attributes.attribute_name in ('href', 'id', 'alt', 'aria-label', 'title', 'name', 'type'))
    where element_tags.element_index <= 3
    group by element_tags.event_uuid, element_tags.element_index, element_tags.tag, element_tags.classes
),

-- The element a person meant: the clicked one if interactive, else the nearest interactive
-- ancestor within two levels (clicks often land on a span or svg inside a button).
interactive as (
    select event_uuid, min(element_index) as element_index
    from per_element
    where element_index <= 3
        and tag in ('a', 'button', 'input', 'select', 'textarea', 'label', 'option', 'form', 'summary')
    group by event_uuid
),

capture_attributes as (
    select event_uuid, attribute_name, attribute_value, element_index
    from (
        select
            attributes.*,
            row_number() over (
                partition by event_uuid, attribute_name order by element_index, pair_index
            ) as nearest
        from attributes
        where attribute_name like 'data-ph-capture-attribute-%'
    ) as ranked
    where nearest = 1
),

capture_objects as (
    select event_uuid, {{ pc_json_object_agg('attribute_name', 'attribute_value') }} as element_attributes
    from capture_attributes
    group by event_uuid
),

ancestors as (
    select event_uuid, {{ pc_string_agg("coalesce(tag, '?')", ',', 'element_index') }} as ancestor_tags
    from element_tags
    where element_index > 1
    group by event_uuid
),

enrichment_candidates as (
    select
        attributes.event_uuid,
        attributes.element_index,
        rules.description,
        row_number() over (
            partition by attributes.event_uuid
            order by attributes.element_index, rules.priority, rules.rule_id
        ) as preference
    from attributes
    inner join {{ ref('stg_rules__element_enrichment') }} as rules
        on rules.attribute = attributes.attribute_name
),

enrichment as (
    select event_uuid, element_index, description
    from enrichment_candidates
    where preference = 1
),

assembled as (
    select
        target.event_uuid,
        target.tag as element_tag,
        coalesce(
            nullif(trim(target.text_value), ''),
            nullif(trim(target.alt), ''),
            nullif(trim(target.aria_label), ''),
            nullif(trim(base.text_value), ''),
            nullif(trim(base.aria_label), ''),
            nullif(trim(target.title), ''),
            nullif(trim(base.title), '')
        ) as element_text,
        coalesce(target.href, base.href) as element_href,
        coalesce(target.element_id, base.element_id) as element_id,
        target.classes as element_classes,
        coalesce(capture_objects.element_attributes, '{}') as element_attributes,
        ancestors.ancestor_tags,
        coalesce(base.tag, target.tag) as base_tag,
        coalesce(base.type_attr, target.type_attr) as base_input_type,
        interactive.element_index as base_index,
        enrichment.element_index as enrichment_index,
        enrichment.description as enrichment_description,
        chains.loaded_at as source_loaded_at,
        chains.event_date
    from per_element as target
    inner join chains
        on chains.event_uuid = target.event_uuid
    left join interactive
        on interactive.event_uuid = target.event_uuid
    left join per_element as base
        on base.event_uuid = interactive.event_uuid and base.element_index = interactive.element_index
    left join capture_objects
        on capture_objects.event_uuid = target.event_uuid
    left join ancestors
        on ancestors.event_uuid = target.event_uuid
    left join enrichment
        on enrichment.event_uuid = target.event_uuid
    where target.element_index = 1
),

typed as (
    select
        assembled.*,
        case
            when base_tag = 'a' then 'link'
            when base_tag = 'button' then 'button'
            when base_tag = 'input' and base_input_type in ('submit', 'button', 'reset') then 'button'
            when base_tag = 'input' and base_input_type = 'checkbox' then 'checkbox'
            when base_tag = 'input' and base_input_type = 'radio' then 'radio button'
            when base_tag = 'input' then 'input field'
            when base_tag = 'select' then 'dropdown'
            when base_tag = 'option' then 'option'
            when base_tag = 'textarea' then 'text area'
            when base_tag = 'label' then 'label'
            when base_tag = 'form' then 'form'
            when base_tag = 'img' then 'image'
            when base_tag in ('svg', 'path', 'i') then 'icon'
            when base_tag in ('h1', 'h2', 'h3', 'h4', 'h5', 'h6') then 'heading'
            when base_tag = 'li' then 'list item'
            when base_tag in ('p', 'span') then 'text'
            else 'element'
        end as element_base_type
    from assembled
),

pc_output as (
select
    event_uuid,
    element_tag,
    element_text,
    element_href,
    element_id,
    element_classes,
    element_attributes,
    ancestor_tags,
    element_base_type,
    -- A rule matched on the control itself describes it; one matched on a container around an
    -- interactive control says where the control sits ("button in product card").
    case
        when enrichment_description is null then element_base_type
        when position('{base_type}' in enrichment_description) > 0
            then replace(enrichment_description, '{base_type}', element_base_type)
        when base_index is not null and enrichment_index > base_index
            then element_base_type || ' in ' || enrichment_description
        else enrichment_description
    end as element_description,
    source_loaded_at,
    current_rules.element_rules_fingerprint,
    event_date
from typed
cross join current_rules
)

{{ pc_incremental_rows('pc_output', 'event_uuid', 'event_date', output_columns) }}
