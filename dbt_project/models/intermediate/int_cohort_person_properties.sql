-- Person properties as (key, text value) rows for person-property cohort filters. JSON null and
-- absent keys both mean "not set"; nested objects/arrays keep their JSON text.
{{ config(materialized='table') }}

with persons as (
    select
        project_id,
        cast(posthog_person_id as {{ pc_type_text() }}) as person_id,
        properties
    from {{ ref('stg_posthog__persons') }}
),

property_rows as (
    {{ cohort_json_text_rows('persons', ['project_id', 'person_id'], 'properties') }}
)

select
    project_id,
    person_id,
    json_key as prop_key,
    json_text as prop_text
from property_rows
where json_text is not null
