{#- The date the headline report is as of: the var as_of, else the env var CTR_REPORT_AS_OF (set by the
    Dagster asset's config; an env var, not --vars, so dbt keeps its partial-parse cache), else the
    latest date in the marts. -#}
{% macro report_as_of() -%}
    {%- set value = date_setting('as_of', 'CTR_REPORT_AS_OF') -%}
    {%- if value is not none -%}
        date '{{ value.isoformat() }}'
    {%- else -%}
        null
    {%- endif -%}
{%- endmacro %}

{#- The indices the report shows (roles in the var headline_roles), with their place in it (the var
    headline_index_order; others after). -#}
{% macro headline_indices() -%}
    select
        index_id,
        name,
        currency,
        coalesce(list_position({{ var_list('headline_index_order') }}, index_id), 1000) as index_order
    from {{ ref('dim_index') }}
    where list_contains({{ var_list('headline_roles') }}, role)
{%- endmacro %}

{#- How many sessions `side` held in (after, upto]: a correlated count over the side_sessions CTE. -#}
{% macro sessions_missed(side, after, upto) -%}
    (
        select count(*) from side_sessions as s
        where s.side = {{ side }} and s.session_date > {{ after }} and s.session_date <= {{ upto }}
    )
{%- endmacro %}

{#- The report's as-of date: report_as_of(), else the latest date in the marts the report reads. -#}
{% macro headline_as_of_date() -%}
    coalesce(
        {{ report_as_of() }},
        (
            select max(d) from (
                select max(trade_date) as d from {{ ref('fct_index_returns') }}
                union all select max(trade_date) from {{ ref('fct_ai_basket_market_cap') }}
                union all select max(trade_date) from {{ ref('fct_ai_market_cap_ratio') }}
            )
        )
    )
{%- endmacro %}
