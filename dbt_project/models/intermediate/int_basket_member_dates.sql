-- The daily calendar of each basket: one row per (basket_id, symbol, trade_date) for every date on
-- which any member of the basket traded, from the member's own first close onwards. Members listed on
-- different exchanges keep different holidays; the union lets the basket be valued on all of them.
-- Incremental: the dates from the window start on (a member's first close is still read from all
-- of its history).

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

member_trading_days as (

    select basket_id, symbol, trade_date from {{ ref('int_basket_member_prices') }}

),

basket_dates as (

    select distinct basket_id, trade_date
    from member_trading_days
    where {{ in_window('trade_date') }}

),

first_closes as (

    select
        basket_id,
        symbol,
        min(trade_date) as first_close_date

    from member_trading_days
    group by basket_id, symbol

),

final as (

    -- a member that is not listed yet (or has no prices) contributes no rows
    select
        first_closes.basket_id,
        first_closes.symbol,
        basket_dates.trade_date,
        first_closes.first_close_date

    from first_closes
    inner join basket_dates
        on first_closes.basket_id = basket_dates.basket_id
        and basket_dates.trade_date >= first_closes.first_close_date

)

select * from final
