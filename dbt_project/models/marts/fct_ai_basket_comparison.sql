-- One row per (basket, compared basket, trade_date) for every pair the baskets seed declares
-- (`compare_with`): both market caps as of the date and their ratio. A new basket and what it is
-- compared with are seed rows; fct_ai_market_cap_ratio is the headline pair of this mart.
-- Incremental: the days from the window start on, each basket's value as of it read from the
-- basket's latest valued day on or before the window start onwards.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

baskets as (

    select * from {{ ref('stg_baskets') }}

),

basket_market_cap as (

    select * from {{ ref('fct_ai_basket_market_cap') }}

),

pairs as (

    select
        basket_id,
        compare_with as compared_with

    from baskets
    where compare_with is not null

),

valued_days as (

    select basket_id, trade_date, market_cap_usd
    from basket_market_cap
    where market_cap_usd is not null
        and {{ asof_lookback(ref('fct_ai_basket_market_cap'), ['basket_id'], 'trade_date', where='market_cap_usd is not null') }}

),

calendar as (

    -- either basket's trading days: two baskets may trade on different exchange calendars
    select distinct
        pairs.basket_id,
        pairs.compared_with,
        basket_market_cap.trade_date

    from pairs
    inner join basket_market_cap
        on basket_market_cap.basket_id in (pairs.basket_id, pairs.compared_with)
    where {{ in_window('basket_market_cap.trade_date') }}

),

basket_asof as (

    select
        calendar.*,
        valued_days.market_cap_usd

    from calendar
    asof inner join valued_days
        on calendar.basket_id = valued_days.basket_id
        and calendar.trade_date >= valued_days.trade_date

),

both_asof as (

    -- inner joins: a row only where both baskets have a value as of the date
    select
        basket_asof.basket_id,
        basket_asof.compared_with,
        basket_asof.trade_date,
        basket_asof.market_cap_usd,
        valued_days.market_cap_usd as compared_market_cap_usd

    from basket_asof
    asof inner join valued_days
        on basket_asof.compared_with = valued_days.basket_id
        and basket_asof.trade_date >= valued_days.trade_date

),

final as (

    select
        basket_id,
        compared_with,
        trade_date,
        market_cap_usd,
        compared_market_cap_usd,
        -- a fraction: 0.065 means the basket is worth 6.5% of the one it is compared with
        market_cap_usd / compared_market_cap_usd as ratio

    from both_asof

)

select * from final
