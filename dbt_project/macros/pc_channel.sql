{#- A simplified PostHog channel type from the entry event's UTM tags and referrer
    (portable SQL; lists of well-known domains are kept short on purpose). -#}
{% macro pc_channel(utm_source, utm_medium, referring_domain, referrer) -%}
    case
        when lower(coalesce({{ utm_medium }}, '')) in ('cpc', 'ppc', 'paid', 'paidsearch', 'paid_search', 'cpm', 'display', 'paid_social', 'paidsocial')
            or lower(coalesce({{ utm_medium }}, '')) like 'paid%' then 'Paid'
        when lower(coalesce({{ utm_medium }}, '')) in ('email', 'e-mail', 'newsletter')
            or lower(coalesce({{ utm_source }}, '')) like '%mail%' then 'Email'
        when lower(coalesce({{ utm_medium }}, '')) in ('social', 'social-network', 'social-media', 'sm')
            or {{ pc_regex_match("lower(coalesce(" ~ referring_domain ~ ", ''))", '(^|[.])(facebook|instagram|twitter|x|t|linkedin|lnkd|reddit|youtube|tiktok|pinterest)[.](com|co|in)$') }}
            then 'Organic Social'
        when {{ pc_regex_match("lower(coalesce(" ~ referring_domain ~ ", ''))", '(^|[.])(google|bing|duckduckgo|yahoo|baidu|yandex|ecosia)[.]') }}
            then 'Organic Search'
        when {{ utm_source }} is not null or {{ utm_medium }} is not null then 'Other campaign'
        when coalesce({{ referring_domain }}, '$direct') <> '$direct'
            or coalesce({{ referrer }}, '$direct') <> '$direct' then 'Referral'
        else 'Direct'
    end
{%- endmacro %}
