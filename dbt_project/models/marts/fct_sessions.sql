-- One row per session, PostHog's definition: start/end = first/last event, duration in seconds,
-- entry/exit from the first/last event, bounce = null without pageviews, else not (more than one
-- pageview or any autocapture or at least 10 s). Active = last event within 30 minutes of the
-- newest event in the warehouse. The summary is one plain sentence built from the labels.
-- Incremental per person (pc_person_incremental_config): a run recomputes every session of the
-- persons that own a session with (re)computed events (fct_enriched_events.refreshed_at after this
-- table's newest stamp) or whose session active at the last run is no longer active (is_active is
-- relative to the newest event, so it turns false without new events of its own). The post-hook removes sessions whose
-- owner no longer owns them (an $identify re-stitched them to another person).
{{ config(**pc_person_incremental_config(
    "delete from {{ this }} as built where not exists (select 1 from {{ ref('fct_enriched_events') }} as e"
    ~ " where e.project_id = built.project_id and e.session_id = built.session_id"
    ~ " and e.sequence_number = 1 and e.person_id = built.person_id)"
)) }}
{%- set idle_seconds = pc_int_var('session_idle_minutes') * 60 %}
{%- set incremental_run = is_incremental() and pc_built_has_column('refreshed_at') %}

with all_events as (
    select * from {{ ref('fct_enriched_events') }}
),

newest as (
    select max(event_at) as newest_event_at from all_events
),

{% if incremental_run %}
owners as (
    select project_id, session_id, person_id from all_events where sequence_number = 1
),

touched_persons as (
    select distinct project_id, person_id
    from all_events
    where refreshed_at > {{ pc_own_watermark() }}
    union
    -- sessions active at the last run that the newest event now leaves behind
    select built.project_id, built.person_id
    from {{ this }} as built
    cross join newest
    where built.is_active
        and {{ pc_seconds_between('built.ended_at', 'newest.newest_event_at') }} > {{ idle_seconds }}
),

touched_sessions as (
    select owners.project_id, owners.session_id
    from owners
    inner join touched_persons
        on touched_persons.project_id = owners.project_id and touched_persons.person_id = owners.person_id
),

events as (
    select all_events.*
    from all_events
    inner join touched_sessions
        on touched_sessions.project_id = all_events.project_id
        and touched_sessions.session_id = all_events.session_id
),
{% else %}
events as (
    select * from all_events
),
{% endif %}

entry_attributes as (
    select
        events.project_id,
        events.session_id,
        stg.utm_source,
        stg.utm_medium,
        stg.utm_campaign,
        stg.referring_domain
    from events
    inner join {{ ref('stg_posthog__events') }} as stg on stg.event_uuid = events.event_uuid
    where events.sequence_number = 1
),

edges as (
    select
        project_id,
        session_id,
        max(case when sequence_number = 1 then person_id end) as person_id,
        max(case when sequence_number = 1 then current_url end) as entry_url,
        max(case when sequence_number = 1 then referrer end) as referrer,
        max(case when sequence_number = 1 then device_type end) as entry_device_type,
        max(case when sequence_number = 1 then browser end) as entry_browser,
        max(sequence_number) as last_sequence_number
    from events
    group by project_id, session_id
),

-- First/last event that carries a page or URL (a $pageleave or custom event may not).
paged as (
    select
        project_id,
        session_id,
        page_title,
        page_path,
        current_url,
        row_number() over (partition by project_id, session_id order by sequence_number) as from_start,
        row_number() over (partition by project_id, session_id order by sequence_number desc) as from_end
    from events
    where page_path is not null or current_url is not null
),

pages as (
    select
        project_id,
        session_id,
        max(case when from_start = 1 then coalesce(page_title, page_path) end) as entry_page,
        max(case when from_end = 1 then coalesce(page_title, page_path) end) as exit_page,
        max(case when from_end = 1 then current_url end) as last_url
    from paged
    group by project_id, session_id
),

aggregates as (
    select
        project_id,
        session_id,
        min(event_at) as started_at,
        max(event_at) as ended_at,
        cast(count(*) as bigint) as event_count,
        cast(sum(case when event_name = '$pageview' then 1 else 0 end) as bigint) as pageview_count,
        cast(sum(case when event_name = '$autocapture' then 1 else 0 end) as bigint) as autocapture_count,
        cast(sum(case when event_type = 'click' and action_type in ('click', 'rage_click', 'dead_click') then 1 else 0 end) as bigint) as click_count,
        cast(sum(case when action_type = 'rage_click' then 1 else 0 end) as bigint) as rage_click_count,
        max(device_type) as any_device_type,
        max(browser) as any_browser
    from events
    group by project_id, session_id
),

-- Summary pieces ------------------------------------------------------------------------------
viewed_pages as (
    select project_id, session_id, page_name, row_number() over (
        partition by project_id, session_id order by first_sequence
    ) as page_rank
    from (
        select project_id, session_id,
            case when page_title like '% page' then substr(page_title, 1, length(page_title) - 5)
                 else page_title end as page_name,
            min(sequence_number) as first_sequence
        from events
        where event_type = 'pageview' and page_title is not null
        group by project_id, session_id,
            case when page_title like '% page' then substr(page_title, 1, length(page_title) - 5)
                 else page_title end
    ) as distinct_pages
),

viewed_phrase as (
    select
        project_id,
        session_id,
        case
            when count(*) = 1 then 'viewed ' || max(case when page_rank = 1 then page_name end) || ' page'
            when count(*) = 2 then 'viewed ' || max(case when page_rank = 1 then page_name end)
                || ' and ' || max(case when page_rank = 2 then page_name end) || ' pages'
            when count(*) = 3 then 'viewed ' || max(case when page_rank = 1 then page_name end)
                || ', ' || max(case when page_rank = 2 then page_name end)
                || ' and ' || max(case when page_rank = 3 then page_name end) || ' pages'
            else 'viewed ' || max(case when page_rank = 1 then page_name end)
                || ', ' || max(case when page_rank = 2 then page_name end)
                || ' and ' || cast(count(*) - 2 as {{ pc_type_text() }}) || ' more pages'
        end as phrase
    from viewed_pages
    group by project_id, session_id
),

clicked_targets as (
    select project_id, session_id, verb, target, times, row_number() over (
        partition by project_id, session_id order by times desc, first_sequence
    ) as target_rank
    from (
        select
            project_id,
            session_id,
            case action_type when 'rage_click' then 'rage-clicked' when 'submit' then 'submitted'
                else 'clicked' end as verb,
            {{ pc_literal("'") }} || case when length(element_text) > 40 then left(element_text, 39) || '…'
                else element_text end || {{ pc_literal("'") }} as target,
            count(*) as times,
            min(sequence_number) as first_sequence
        from events
        where element_text is not null and trim(element_text) <> ''
            and action_type in ('click', 'rage_click', 'submit')
        group by project_id, session_id,
            case action_type when 'rage_click' then 'rage-clicked' when 'submit' then 'submitted'
                else 'clicked' end,
            {{ pc_literal("'") }} || case when length(element_text) > 40 then left(element_text, 39) || '…'
                else element_text end || {{ pc_literal("'") }}
    ) as targets
),

clicked_phrase as (
    select
        project_id,
        session_id,
        {{ pc_string_agg(
            "verb || ' ' || target || case when times = 1 then '' when times = 2 then ' twice'
                else ' ' || cast(times as " ~ pc_type_text() ~ ") || ' times' end",
            ', ', 'target_rank') }} as phrase
    from clicked_targets
    where target_rank <= 2
    group by project_id, session_id
),

custom_actions as (
    select project_id, session_id, event_name, times, row_number() over (
        partition by project_id, session_id order by times desc, first_sequence
    ) as action_rank
    from (
        select project_id, session_id,
            lower(replace(replace(event_name, '_', ' '), '-', ' ')) as event_name,
            count(*) as times, min(sequence_number) as first_sequence
        from events
        where event_type = 'custom'
        group by project_id, session_id, lower(replace(replace(event_name, '_', ' '), '-', ' '))
    ) as counted
),

custom_phrase as (
    select
        project_id,
        session_id,
        {{ pc_string_agg(
            "event_name || case when times = 1 then '' when times = 2 then ' twice'
                else ' ' || cast(times as " ~ pc_type_text() ~ ") || ' times' end",
            ', ', 'action_rank') }} as phrase
    from custom_actions
    where action_rank <= 2
    group by project_id, session_id
),

sessions as (
    select
        aggregates.session_id,
        aggregates.project_id,
        edges.person_id,
        aggregates.started_at,
        aggregates.ended_at,
        cast({{ pc_seconds_between('aggregates.started_at', 'aggregates.ended_at') }} as {{ pc_type_double() }}) as duration_seconds,
        aggregates.event_count,
        aggregates.pageview_count,
        aggregates.autocapture_count,
        aggregates.click_count,
        aggregates.rage_click_count,
        pages.entry_page,
        pages.exit_page,
        edges.entry_url,
        pages.last_url as exit_url,
        edges.referrer,
        entry_attributes.utm_source,
        entry_attributes.utm_medium,
        entry_attributes.utm_campaign,
        entry_attributes.referring_domain,
        coalesce(edges.entry_device_type, aggregates.any_device_type) as device_type,
        coalesce(edges.entry_browser, aggregates.any_browser) as browser,
        viewed_phrase.phrase as viewed,
        clicked_phrase.phrase as clicked,
        custom_phrase.phrase as custom_actions,
        newest.newest_event_at
    from aggregates
    inner join edges
        on edges.project_id = aggregates.project_id and edges.session_id = aggregates.session_id
    cross join newest
    left join pages
        on pages.project_id = aggregates.project_id and pages.session_id = aggregates.session_id
    left join entry_attributes
        on entry_attributes.project_id = aggregates.project_id and entry_attributes.session_id = aggregates.session_id
    left join viewed_phrase
        on viewed_phrase.project_id = aggregates.project_id and viewed_phrase.session_id = aggregates.session_id
    left join clicked_phrase
        on clicked_phrase.project_id = aggregates.project_id and clicked_phrase.session_id = aggregates.session_id
    left join custom_phrase
        on custom_phrase.project_id = aggregates.project_id and custom_phrase.session_id = aggregates.session_id
),

described as (
    select
        sessions.*,
        {{ pc_channel('utm_source', 'utm_medium', 'referring_domain', 'referrer') }} as channel,
        case
            when coalesce(viewed, clicked, custom_actions, exit_page) is null
                then cast(event_count as {{ pc_type_text() }})
                    || case when event_count = 1 then ' event' else ' events' end
                    || ' without page or element details'
            else substr(
                coalesce(', ' || viewed, '')
                || coalesce(', ' || clicked, '')
                || coalesce(', ' || custom_actions, '')
                || coalesce(', left at ' || case when exit_page like '% page'
                    then substr(exit_page, 1, length(exit_page) - 5) else exit_page end, ''),
                3)
        end as summary_body
    from sessions
)

select
    session_id,
    project_id,
    person_id,
    started_at,
    ended_at,
    duration_seconds,
    event_count,
    pageview_count,
    autocapture_count,
    click_count,
    rage_click_count,
    entry_page,
    exit_page,
    entry_url,
    exit_url,
    referrer,
    channel,
    device_type,
    browser,
    case
        when pageview_count = 0 then null
        else not (pageview_count > 1 or autocapture_count > 0 or duration_seconds >= 10)
    end as is_bounce,
    {{ pc_seconds_between('ended_at', 'newest_event_at') }} <= {{ idle_seconds }} as is_active,
    upper(substr(summary_body, 1, 1)) || substr(summary_body, 2) || '.' as session_summary,
    {{ pc_run_stamp() }} as refreshed_at
from described
