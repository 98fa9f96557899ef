-- Who drove a basket's USD market-cap change over a period: each member's own change between the
-- basket's base row and the date, from the same member rows the basket sums, so the members' changes
-- add up to the basket's. A member without a value on one side counts as 0 there (listed, or priced,
-- after the base: its whole value is its contribution). Incremental: the days from the window start on,
-- each basket's and its members' values read back to the base of the window start's longest period.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

{%- set periods = [('1M', 1, 'months', 1), ('3M', 2, 'months', 3), ('6M', 3, 'months', 6), ('YTD', 4, 'ytd', none), ('1Y', 5, 'months', 12)] %}

with

basket as (

    select basket_id, trade_date, market_cap_usd
    from {{ ref('fct_ai_basket_market_cap') }}
    where market_cap_usd is not null
        and {{ asof_lookback(ref('fct_ai_basket_market_cap'), ['basket_id'], 'trade_date', anchors=true, where='market_cap_usd is not null') }}

),

members_daily as (

    select basket_id, symbol, trade_date, market_cap_usd from {{ ref('fct_ai_basket_members_daily') }}
    where {{ asof_lookback(ref('fct_ai_basket_members_daily'), ['basket_id'], 'trade_date', anchors=true, where='market_cap_usd is not null') }}

),

seed_members as (

    select basket_id, symbol, subsector from {{ ref('stg_ai_basket_members') }}

),

targets as (

    -- the anchor as "on or before a date": the YTD base is the last valued day of the previous year
    {%- for period, period_order, kind, months in periods %}
    select
        basket_id, trade_date, market_cap_usd, '{{ period }}' as period, {{ period_order }} as period_order,
        {% if kind == 'ytd' %}{{ year_start('trade_date') }} - 1{% else %}{{ months_before('trade_date', months) }}{% endif %} as base_target_date
    from basket
    where {{ in_window('trade_date') }}
    {{ "union all" if not loop.last }}
    {%- endfor %}

),

based as (

    select
        targets.basket_id,
        targets.period,
        targets.period_order,
        targets.trade_date,
        base.trade_date as base_date,
        targets.market_cap_usd as basket_market_cap_usd,
        base.market_cap_usd as basket_market_cap_usd_base

    from targets
    asof inner join basket as base
        on targets.basket_id = base.basket_id
        and targets.base_target_date >= base.trade_date

),

sides as (

    select based.*, m.symbol, m.market_cap_usd, null::double as market_cap_usd_base
    from based
    inner join members_daily as m on based.basket_id = m.basket_id and based.trade_date = m.trade_date
    union all
    select based.*, m.symbol, null::double, m.market_cap_usd
    from based
    inner join members_daily as m on based.basket_id = m.basket_id and based.base_date = m.trade_date

),

members as (

    select
        basket_id, period, period_order, trade_date, base_date, basket_market_cap_usd, basket_market_cap_usd_base,
        symbol,
        max(market_cap_usd) as market_cap_usd,
        max(market_cap_usd_base) as market_cap_usd_base

    from sides
    group by all
    having max(market_cap_usd) is not null or max(market_cap_usd_base) is not null

),

changes as (

    -- the basket's change as the sum of its members': the difference of two basket totals of ~1e13
    -- would carry their rounding (1e-3) into a change of ~1e10, and differ between builds
    select
        *,
        sum(change_usd) over (partition by basket_id, period, trade_date) as basket_change_usd

    from (
        select *, coalesce(market_cap_usd, 0) - coalesce(market_cap_usd_base, 0) as change_usd
        from members
    )

),

final as (

    select
        changes.basket_id,
        changes.symbol,
        seed_members.subsector,
        changes.period,
        changes.trade_date,
        changes.base_date,
        changes.market_cap_usd,
        changes.market_cap_usd_base,
        changes.change_usd,
        changes.basket_change_usd,
        changes.change_usd / nullif(changes.basket_change_usd, 0) as share_of_change,
        100 * changes.change_usd / changes.basket_market_cap_usd_base as contribution_pct_points,
        -- 1 = moved the basket most in the direction it went (the largest fall when it fell)
        rank() over (
            partition by changes.basket_id, changes.period, changes.trade_date
            order by case when changes.basket_change_usd < 0 then -changes.change_usd else changes.change_usd end desc
        )::integer as contribution_rank

    from changes
    left join seed_members
        on changes.basket_id = seed_members.basket_id and changes.symbol = seed_members.symbol

)

select * from final
