-- Incremental: the days from the window start on, each basket's value as of it read from the
-- basket's latest valued day on or before the window start onwards.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

basket_market_cap as (

    select * from {{ ref('fct_ai_basket_market_cap') }}

),

valued_days as (

    select basket_id, trade_date, market_cap_usd
    from basket_market_cap
    where market_cap_usd is not null
        and {{ asof_lookback(ref('fct_ai_basket_market_cap'), ['basket_id'], 'trade_date', where='market_cap_usd is not null') }}

),

cn_values as (

    select trade_date, market_cap_usd from valued_days where basket_id = 'CN_AI'

),

peer_values as (

    select trade_date, market_cap_usd from valued_days where basket_id = 'GLOBAL_AI_EX_CN'

),

calendar as (

    -- either basket's trading days: the two baskets trade on different exchange calendars
    select distinct trade_date
    from basket_market_cap
    where basket_id in ('CN_AI', 'GLOBAL_AI_EX_CN')
        and {{ in_window('trade_date') }}

),

cn_asof as (

    select
        calendar.trade_date,
        cn_values.market_cap_usd as cn_market_cap_usd

    from calendar
    asof inner join cn_values
        on calendar.trade_date >= cn_values.trade_date

),

both_asof as (

    -- inner joins: a row only where both baskets have a value as of the date
    select
        cn_asof.trade_date,
        cn_asof.cn_market_cap_usd,
        peer_values.market_cap_usd as peer_market_cap_usd

    from cn_asof
    asof inner join peer_values
        on cn_asof.trade_date >= peer_values.trade_date

),

final as (

    select
        trade_date,
        cn_market_cap_usd,
        peer_market_cap_usd,
        -- a fraction: 0.065 means the Chinese basket is worth 6.5% of the comparison set
        cn_market_cap_usd / peer_market_cap_usd as cn_to_peer_ratio

    from both_asof

)

select * from final
