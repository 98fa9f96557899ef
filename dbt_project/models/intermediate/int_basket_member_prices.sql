-- The price rows of AI basket members only. Materialised once so the basket models sort and
-- as-of-join a few thousand rows instead of the whole stock_prices table, which can hold every
-- listed symbol. Incremental: the rows from the window start on.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

members as (

    select basket_id, symbol from {{ ref('stg_ai_basket_members') }}

),

stock_prices as (

    select symbol, trade_date, close, currency
    from {{ ref('stg_stock_prices') }}
    where {{ in_window('trade_date') }}

),

final as (

    select
        members.basket_id,
        stock_prices.symbol,
        stock_prices.trade_date,
        stock_prices.close,
        stock_prices.currency

    from members
    inner join stock_prices
        on members.symbol = stock_prices.symbol

)

select * from final
