{#- Behavioral patterns per session, evaluated from the rule tables (rules are rows, never SQL text).

    For every enabled rule and every session that passes the rule's session bounds:
    1. positive events = events matching every positive field of the rule (any value of a field);
       a rule without positive filters counts every event of the session;
    2. candidate windows: each positive event anchors a window [anchor, anchor + time_window]
       (inclusive; no time_window = rest of the session); the window qualifies when it holds at least
       min_count positive events;
    3. a qualifying window is cancelled by a negative event at or after its anchor and no later than
       its last positive event + negative_window (no negative_window = rest of the session);
    4. the surviving window with the most positives (then the earliest) is the match.
    Text comparisons are case-insensitive except event_name (PostHog event names are case-sensitive). -#}

{#- Incremental per person (pc_person_incremental_config): a run recomputes the persons that own a
    session fct_sessions rewrote since this table's newest stamp, or every person when the pattern
    rules changed (pattern_rules_fingerprint). The post-hook removes matches that were not rewritten
    although their session was (the pattern no longer matches), whose session is gone or has
    another owner, or that were found with other rules. -#}
{{ config(**pc_person_incremental_config(
    "delete from {{ this }} as built where not exists (select 1 from {{ ref('fct_sessions') }} as s"
    ~ " where s.project_id = built.project_id and s.session_id = built.session_id"
    ~ " and s.person_id = built.person_id and s.refreshed_at <= built.refreshed_at)"
    ~ " or built.pattern_rules_fingerprint <> (select pattern_rules_fingerprint from {{ ref('int_rules_fingerprint') }})"
)) }}
{%- set incremental_run = is_incremental() and pc_built_has_column('refreshed_at') %}

with rules as (
    select * from {{ ref('int_pattern_rules') }}
),

filters as (
    select * from {{ ref('int_pattern_filters') }}
),

current_rules as (
    select pattern_rules_fingerprint from {{ ref('int_rules_fingerprint') }}
),

{% if incremental_run %}
rules_changed as (
    {{ pc_rules_changed('pattern_rules_fingerprint') }}
),

touched_persons as (
    select distinct project_id, person_id
    from {{ ref('fct_sessions') }}
    where refreshed_at > {{ pc_own_watermark() }}
        or (select changed from rules_changed)
),
{% endif %}

sessions as (
    select
        s.project_id,
        s.session_id,
        s.person_id,
        s.started_at,
        s.ended_at,
        s.duration_seconds,
        s.event_count,
        s.pageview_count
    from {{ ref('fct_sessions') }} as s
    {% if incremental_run %}
    inner join touched_persons
        on touched_persons.project_id = s.project_id and touched_persons.person_id = s.person_id
    {% endif %}
),

events as (
    select
        project_id,
        session_id,
        event_uuid,
        event_at,
        {{ cohort_epoch_us('event_at') }} as event_us,
        event_name,
        lower(event_type) as event_type,
        lower(action_type) as action_type,
        lower(page_path) as page_path,
        semantic_label,
        lower(semantic_label) as label_lower
    from {{ ref('fct_enriched_events') }} as e
    where session_id is not null
    {% if incremental_run %}
        and exists (
            select 1 from sessions where sessions.project_id = e.project_id and sessions.session_id = e.session_id
        )
    {% endif %}
),

-- Rules whose session bounds (inclusive) this session satisfies.
eligible as (
    select
        s.project_id,
        s.session_id,
        s.person_id,
        s.ended_at,
        r.code
    from sessions as s
    cross join rules as r
    where (r.min_duration_seconds is null or s.duration_seconds >= r.min_duration_seconds)
        and (r.max_duration_seconds is null or s.duration_seconds <= r.max_duration_seconds)
        and (r.min_events is null or s.event_count >= r.min_events)
        and (r.max_events is null or s.event_count <= r.max_events)
        and (r.min_pageviews is null or s.pageview_count >= r.min_pageviews)
        and (r.max_pageviews is null or s.pageview_count <= r.max_pageviews)
),

-- Which filter rows each event satisfies. Equality fields meet their filters through equi-joins and
-- the prefix / substring fields through a join against the few filter rows of that field, so an
-- event is never paired with every rule (the cost grows with matches, not events x rules).
{%- set equality_fields = [
    ('event_type', 'value_lower', 'event_type'),
    ('action_type', 'value_lower', 'action_type'),
    ('event_name', 'value', 'event_name'),
    ('page_path_equals', 'value_lower', 'page_path')] %}
field_hits as (
    {%- for field, filter_value, event_column in equality_fields %}
    select e.project_id, e.session_id, e.event_uuid, f.code, f.role, f.field
    from events as e
    inner join filters as f
        on f.field = '{{ field }}' and f.{{ filter_value }} = e.{{ event_column }}
    union all
    {%- endfor %}
    select e.project_id, e.session_id, e.event_uuid, f.code, f.role, f.field
    from events as e
    inner join (select * from filters where field = 'page_path_prefix') as f
        on substr(e.page_path, 1, length(f.value_lower)) = f.value_lower
    union all
    select e.project_id, e.session_id, e.event_uuid, f.code, f.role, f.field
    from events as e
    inner join (select * from filters where field = 'label_contains') as f
        on position(f.value_lower in e.label_lower) > 0
),

role_field_counts as (
    select code, role, count(distinct field) as field_count
    from filters
    group by code, role
),

-- An event plays a role for a rule when it matches some value of every field of that role, and the
-- rule's session bounds admit its session.
role_hits as (
    select h.project_id, h.session_id, h.event_uuid, h.code, h.role
    from field_hits as h
    inner join role_field_counts as rc
        on rc.code = h.code and rc.role = h.role
    inner join eligible as el
        on el.project_id = h.project_id
        and el.session_id = h.session_id
        and el.code = h.code
    group by h.project_id, h.session_id, h.event_uuid, h.code, h.role, rc.field_count
    having count(distinct h.field) = rc.field_count
),

role_events as (
    select h.code, h.role, e.project_id, e.session_id, e.event_uuid, e.event_at, e.event_us, e.semantic_label
    from role_hits as h
    inner join events as e
        on e.project_id = h.project_id
        and e.session_id = h.session_id
        and e.event_uuid = h.event_uuid
),

rules_with_positive as (
    select distinct code from filters where role = 'positive'
),

positives as (
    select project_id, session_id, code, event_uuid, event_at, event_us, semantic_label
    from role_events
    where role = 'positive'
    union all
    -- A rule without positive filters counts every event of an eligible session.
    select e.project_id, e.session_id, el.code, e.event_uuid, e.event_at, e.event_us, e.semantic_label
    from eligible as el
    inner join events as e
        on e.project_id = el.project_id
        and e.session_id = el.session_id
    where el.code not in (select code from rules_with_positive)
),

negatives as (
    select project_id, session_id, code, event_uuid, event_us
    from role_events
    where role = 'negative'
),

-- Each positive event anchors a window; count the positives inside it. Without a time window the
-- window is the rest of the session (a running count); with one, a bounded self-join.
open_windows as (
    select project_id, session_id, code, anchor_uuid, anchor_us, matched_count, last_us
    from (
        select
            p.project_id,
            p.session_id,
            p.code,
            p.event_uuid as anchor_uuid,
            p.event_us as anchor_us,
            r.min_count,
            count(*) over (
                partition by p.project_id, p.session_id, p.code
                order by p.event_us
                range between current row and unbounded following
            ) as matched_count,
            max(p.event_us) over (
                partition by p.project_id, p.session_id, p.code
            ) as last_us
        from positives as p
        inner join rules as r
            on r.code = p.code
        where r.time_window_seconds is null
    ) as running
    where matched_count >= min_count
),

timed_windows as (
    select
        a.project_id,
        a.session_id,
        a.code,
        a.event_uuid as anchor_uuid,
        a.event_us as anchor_us,
        count(*) as matched_count,
        max(b.event_us) as last_us
    from positives as a
    inner join rules as r
        on r.code = a.code
    inner join positives as b
        on b.project_id = a.project_id
        and b.session_id = a.session_id
        and b.code = a.code
        and b.event_us >= a.event_us
        and b.event_us <= a.event_us + r.time_window_seconds * 1000000
    where r.time_window_seconds is not null
    group by a.project_id, a.session_id, a.code, a.event_uuid, a.event_us, r.min_count
    having count(*) >= r.min_count
),

windows as (
    select * from open_windows
    union all
    select * from timed_windows
),

surviving as (
    select w.*
    from windows as w
    inner join rules as r
        on r.code = w.code
    where not exists (
        select 1
        from negatives as n
        where n.project_id = w.project_id
            and n.session_id = w.session_id
            and n.code = w.code
            and n.event_us >= w.anchor_us
            and (r.negative_window_seconds is null
                or n.event_us <= w.last_us + r.negative_window_seconds * 1000000)
    )
),

chosen as (
    select *
    from (
        select
            s.*,
            row_number() over (
                partition by s.project_id, s.session_id, s.code
                order by s.matched_count desc, s.anchor_us, s.anchor_uuid
            ) as pick
        from surviving as s
    ) as ranked
    where pick = 1
),

evidence_events as (
    select
        c.project_id,
        c.session_id,
        c.code,
        p.event_uuid,
        p.event_at,
        p.semantic_label,
        row_number() over (
            partition by c.project_id, c.session_id, c.code order by p.event_at, p.event_uuid
        ) as evidence_rank
    from chosen as c
    inner join positives as p
        on p.project_id = c.project_id
        and p.session_id = c.session_id
        and p.code = c.code
        and p.event_us >= c.anchor_us
        and p.event_us <= c.last_us
),

evidence as (
    select
        project_id,
        session_id,
        code,
        min(event_at) as first_matched_at,
        max(event_at) as last_matched_at,
        {{ pattern_json_array_agg(
            pc_json_object([
                ('uuid', 'event_uuid'),
                ('at', pc_iso_timestamp('event_at')),
                ('label', 'semantic_label')]),
            'event_at, event_uuid') }} as evidence
    from evidence_events
    where evidence_rank <= {{ var('pattern_evidence_max_events', 20) | int }}
    group by project_id, session_id, code
),

rules_with_negative as (
    select distinct code from filters where role = 'negative'
)

select
    cast(c.project_id as bigint) as project_id,
    cast(el.person_id as {{ pc_type_text() }}) as person_id,
    cast(c.session_id as {{ pc_type_text() }}) as session_id,
    cast(c.code as {{ pc_type_text() }}) as pattern_code,
    cast(r.severity as {{ pc_type_text() }}) as severity,
    cast(r.description as {{ pc_type_text() }}) as description,
    cast(c.matched_count as bigint) as matched_count,
    cast(ev.first_matched_at as {{ pc_type_timestamp() }}) as first_matched_at,
    cast(ev.last_matched_at as {{ pc_type_timestamp() }}) as last_matched_at,
    -- When the match became certain: its last event, or for rules with a negative filter the end
    -- of the negative window (capped at the session's last event).
    cast(case
        when c.code in (select code from rules_with_negative) then
            case
                when r.negative_window_seconds is null then greatest(ev.last_matched_at, el.ended_at)
                else greatest(ev.last_matched_at, least(
                    el.ended_at, {{ pc_add_seconds('ev.last_matched_at', 'r.negative_window_seconds') }}))
            end
        else ev.last_matched_at
    end as {{ pc_type_timestamp() }}) as detected_at,
    cast(ev.evidence as {{ pc_type_text() }}) as evidence,
    current_rules.pattern_rules_fingerprint,
    {{ pc_run_stamp() }} as refreshed_at
from chosen as c
cross join current_rules
inner join rules as r
    on r.code = c.code
inner join eligible as el
    on el.project_id = c.project_id
    and el.session_id = c.session_id
    and el.code = c.code
inner join evidence as ev
    on ev.project_id = c.project_id
    and ev.session_id = c.session_id
    and ev.code = c.code
