{#- Time helpers: every timestamp in the project is a UTC instant (timestamp with time zone). -#}

{% macro pc_type_timestamp() -%}
    {{ return(adapter.dispatch('pc_type_timestamp', 'posthog_context')()) }}
{%- endmacro %}

{% macro default__pc_type_timestamp() -%}timestamp with time zone{%- endmacro %}

{#- Seconds since the epoch as a double. -#}
{% macro pc_epoch_seconds(ts) -%}
    {{ return(adapter.dispatch('pc_epoch_seconds', 'posthog_context')(ts)) }}
{%- endmacro %}

{% macro default__pc_epoch_seconds(ts) -%}
    epoch({{ ts }})
{%- endmacro %}

{% macro postgres__pc_epoch_seconds(ts) -%}
    cast(extract(epoch from {{ ts }}) as double precision)
{%- endmacro %}

{#- end - start in (fractional) seconds, exact to the microsecond. -#}
{% macro pc_seconds_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('pc_seconds_between', 'posthog_context')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro default__pc_seconds_between(start_ts, end_ts) -%}
    ((epoch_us({{ end_ts }}) - epoch_us({{ start_ts }})) / 1000000.0)
{%- endmacro %}

{% macro postgres__pc_seconds_between(start_ts, end_ts) -%}
    cast(extract(epoch from ({{ end_ts }}) - ({{ start_ts }})) as double precision)
{%- endmacro %}

{#- ts + n seconds (n may be an expression or a negative number). -#}
{% macro pc_add_seconds(ts, seconds) -%}
    {{ return(adapter.dispatch('pc_add_seconds', 'posthog_context')(ts, seconds)) }}
{%- endmacro %}

{% macro default__pc_add_seconds(ts, seconds) -%}
    ({{ ts }} + to_microseconds(cast(({{ seconds }}) * 1000000.0 as bigint)))
{%- endmacro %}

{% macro postgres__pc_add_seconds(ts, seconds) -%}
    ({{ ts }} + make_interval(secs => ({{ seconds }})))
{%- endmacro %}

{#- Truncate to hour/day in UTC. -#}
{% macro pc_date_trunc_utc(part, ts) -%}
    {{ return(adapter.dispatch('pc_date_trunc_utc', 'posthog_context')(part, ts)) }}
{%- endmacro %}

{% macro default__pc_date_trunc_utc(part, ts) -%}
    cast(date_trunc({{ pc_literal(part) }}, {{ ts }}) as {{ pc_type_timestamp() }})
{%- endmacro %}

{% macro postgres__pc_date_trunc_utc(part, ts) -%}
    date_trunc({{ pc_literal(part) }}, {{ ts }}, 'UTC')
{%- endmacro %}

{#- ISO-8601 UTC text with milliseconds, e.g. 2025-12-08T21:48:08.975Z -#}
{% macro pc_iso_timestamp(ts) -%}
    {{ return(adapter.dispatch('pc_iso_timestamp', 'posthog_context')(ts)) }}
{%- endmacro %}

{% macro default__pc_iso_timestamp(ts) -%}
    strftime(timezone('UTC', {{ ts }}), '%Y-%m-%dT%H:%M:%S.%gZ')
{%- endmacro %}

{% macro postgres__pc_iso_timestamp(ts) -%}
    to_char(({{ ts }}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
{%- endmacro %}

{#- Short UTC text for prompts: 2025-12-08 21:48 -#}
{% macro pc_minute_text(ts) -%}
    {{ return(adapter.dispatch('pc_minute_text', 'posthog_context')(ts)) }}
{%- endmacro %}

{% macro default__pc_minute_text(ts) -%}
    strftime(timezone('UTC', {{ ts }}), '%Y-%m-%d %H:%M')
{%- endmacro %}

{% macro postgres__pc_minute_text(ts) -%}
    to_char(({{ ts }}) at time zone 'UTC', 'YYYY-MM-DD HH24:MI')
{%- endmacro %}

{#- The wall clock now, as a UTC instant. -#}
{% macro pc_now() -%}
    cast(current_timestamp as {{ pc_type_timestamp() }})
{%- endmacro %}

{#- COHORT_REFERENCE_TIME when set (ISO UTC), else now. -#}
{% macro pc_reference_time() -%}
    {%- set ref = var('cohort_reference_time', '') | string | trim -%}
    {%- if ref in ('', 'now', 'None') -%}
        {{ pc_now() }}
    {%- else -%}
        {{ pc_cast_timestamp(pc_literal(ref)) }}
    {%- endif -%}
{%- endmacro %}

{#- The UTC calendar date of an instant. -#}
{% macro pc_utc_date(ts) -%}
    {{ return(adapter.dispatch('pc_utc_date', 'posthog_context')(ts)) }}
{%- endmacro %}

{% macro default__pc_utc_date(ts) -%}
    cast(timezone('UTC', {{ ts }}) as date)
{%- endmacro %}

{% macro postgres__pc_utc_date(ts) -%}
    cast(({{ ts }}) at time zone 'UTC' as date)
{%- endmacro %}

{% macro spark__pc_utc_date(ts) -%}
    to_date({{ ts }})
{%- endmacro %}
