-- Each basket member's close, FX rate and share count as of every date of its basket's calendar.
-- "As of d" is the latest row dated on or before d, so a member on holiday carries its last close,
-- and FX and share counts carry forward between observations. Incremental: the dates from the
-- window start on, each input from the value in force at the window start.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

member_dates as (

    select basket_id, symbol, trade_date
    from {{ ref('int_basket_member_dates') }}
    where {{ in_window('trade_date') }}

),

member_prices as (

    select basket_id, symbol, trade_date, close, currency
    from {{ ref('int_basket_member_prices') }}
    where {{ asof_lookback(ref('int_basket_member_prices'), ['basket_id', 'symbol'], 'trade_date') }}

),

fx_rates as (

    select currency, trade_date, usd_per_unit
    from {{ ref('stg_fx_rates') }}
    where {{ asof_lookback(ref('stg_fx_rates'), ['currency'], 'trade_date') }}

),

shares_outstanding as (

    select symbol, as_of_date, shares_outstanding
    from {{ ref('stg_shares_outstanding') }}
    where {{ asof_lookback(ref('stg_shares_outstanding'), ['symbol'], 'as_of_date') }}

),

closes_asof as (

    -- inner is safe: member_dates only holds dates on or after the member's first close
    select
        member_dates.basket_id,
        member_dates.symbol,
        member_dates.trade_date,
        price.trade_date as close_date,
        price.close as close_local,
        price.currency

    from member_dates
    asof inner join member_prices as price
        on member_dates.basket_id = price.basket_id
        and member_dates.symbol = price.symbol
        and member_dates.trade_date >= price.trade_date

),

fx_days as (

    -- the rate in force on every calendar day, so that the 20M member-days find theirs by a hash
    -- join on (currency, date): an as-of join would sort them all by currency and date first
    select
        days.currency,
        days.trade_date,
        fx.trade_date as fx_date,
        fx.usd_per_unit

    from (
        select
            currency,
            unnest(generate_series(
                min(trade_date), (select max(trade_date) from member_dates), interval 1 day
            ))::date as trade_date
        from fx_rates
        group by currency
    ) as days
    asof inner join fx_rates as fx
        on days.currency = fx.currency
        and days.trade_date >= fx.trade_date

),

fx_asof as (

    -- the currency is the one on the price row used, so a re-quoted listing converts correctly
    select
        closes_asof.*,
        case when closes_asof.currency = 'USD' then null else fx.fx_date end as fx_date,
        case when closes_asof.currency = 'USD' then 1.0 else fx.usd_per_unit end as usd_per_unit

    from closes_asof
    left join fx_days as fx
        on closes_asof.currency = fx.currency
        and closes_asof.trade_date = fx.trade_date

),

shares_asof as (

    select
        fx_asof.*,
        shares.as_of_date as shares_as_of_date,
        shares.shares_outstanding

    from fx_asof
    asof left join shares_outstanding as shares
        on fx_asof.symbol = shares.symbol
        and fx_asof.trade_date >= shares.as_of_date

),

final as (

    select
        basket_id,
        symbol,
        trade_date,
        close_date,
        close_local,
        currency,
        fx_date,
        usd_per_unit,
        shares_as_of_date,
        shares_outstanding

    from shares_asof

)

select * from final
