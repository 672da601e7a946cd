-- Every cohort to evaluate: PostHog API cohorts (posthog_raw.cohorts) and local cohorts from
-- rules/cohorts.yaml (posthog_rules.cohort_definitions). Rules cohorts without a project apply to
-- every project that has people or cohorts. cohort_id is text in one key space ("123", "rules:key").
{{ config(materialized='table') }}

with rules_source as (
    {{ cohort_pattern_input(source('posthog_rules', 'cohort_definitions'), [
        ('project_id', 'bigint'), ('cohort_id', 'text'), ('name', 'text'), ('description', 'text'),
        ('is_static', 'bool')]) }}
),

api as (
    -- Staging keeps one copy per cohort (the newest load on an append-only lake).
    select
        project_id,
        cohort_id,
        cohort_name,
        description,
        'posthog' as source,
        is_static,
        is_deleted
    from {{ ref('stg_posthog__cohorts') }}
    where cohort_id is not null and project_id is not null
),

projects as (
    select project_id from {{ ref('int_cohort_persons') }}
    union
    select project_id from api
),

rules as (
    select
        p.project_id,
        r.cohort_id,
        r.name as cohort_name,
        r.description,
        'rules' as source,
        coalesce(r.is_static, false) as is_static,
        false as is_deleted
    from rules_source as r
    inner join projects as p
        on r.project_id is null or r.project_id = p.project_id
    where r.cohort_id is not null
)

select * from api
union all
select * from rules
