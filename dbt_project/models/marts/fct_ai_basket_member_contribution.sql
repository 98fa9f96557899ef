-- Who drove a basket's USD market-cap change over a period: each member's own change between the
-- basket's base row and the date, from the same member rows the basket sums, so the members' changes
-- add up to the basket's. A member without a value on one side counts as 0 there (listed, or priced,
-- after the base: its whole value is its contribution). Incremental: the days from the window start on,
-- each basket's and its members' values read back to the base of the window start's longest period.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

{%- set periods = [('1M', 'months', 1), ('3M', 'months', 3), ('6M', 'months', 6), ('YTD', 'ytd', none), ('1Y', 'months', 12)] %}

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
    {%- for period, kind, months in periods %}
    select
        basket_id, trade_date, market_cap_usd, '{{ period }}' as period,
        {% if kind == 'ytd' %}{{ year_start('trade_date') }} - 1{% else %}{{ months_before('trade_date', months) }}{% endif %} as base_target_date
    from basket
    where {{ in_window('trade_date') }}
    {{ "union all" if not loop.last }}
    {%- endfor %}

),

based as (

    -- one row per basket, period and date; `slot` numbers them, so the 10-100M member rows below are
    -- grouped and ranked on one integer rather than on (basket_id, period, trade_date)
    select
        row_number() over () as slot,
        targets.basket_id,
        targets.period,
        targets.trade_date,
        base.trade_date as base_date,
        targets.market_cap_usd as basket_market_cap_usd,
        base.market_cap_usd as basket_market_cap_usd_base

    from targets
    asof inner join basket as base
        on targets.basket_id = base.basket_id
        and targets.base_target_date >= base.trade_date

),

members as (

    -- every member with a row on the date: a member has a row on every basket date from its first
    -- close on, so the members on the base date are among them (NULL base: listed since), and one
    -- join each way replaces a union of both sides grouped back by member
    select
        based.slot,
        now.symbol,
        now.market_cap_usd,
        base.market_cap_usd as market_cap_usd_base,
        coalesce(now.market_cap_usd, 0) - coalesce(base.market_cap_usd, 0) as change_usd

    from based
    inner join members_daily as now
        on based.basket_id = now.basket_id
        and based.trade_date = now.trade_date
    left join members_daily as base
        on now.basket_id = base.basket_id
        and now.symbol = base.symbol
        and based.base_date = base.trade_date
    where now.market_cap_usd is not null or base.market_cap_usd is not null

),

basket_changes as (

    -- the basket's change is the sum of its members' (not the difference of two 1e13 totals, whose
    -- rounding would be larger than a small change)
    select slot, sum(change_usd) as basket_change_usd
    from members
    group by slot

),

changes as (

    select
        based.*,
        members.symbol,
        members.market_cap_usd,
        members.market_cap_usd_base,
        members.change_usd,
        basket_changes.basket_change_usd

    from members
    inner join basket_changes on members.slot = basket_changes.slot
    inner join based on members.slot = based.slot

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
            partition by changes.slot
            order by case when changes.basket_change_usd < 0 then -changes.change_usd else changes.change_usd end desc
        )::integer as contribution_rank

    from changes
    left join seed_members
        on changes.basket_id = seed_members.basket_id and changes.symbol = seed_members.symbol

)

select * from final
