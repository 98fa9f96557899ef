{{ config(severity='warn') }}

-- Names every basket member with days whose market cap is unknown, and why (no FX rate or no share
-- count as of the date). The rows stay in the marts with a NULL market_cap_usd; this only warns, one
-- result row per member and missing input.

with

members_daily as (

    select * from {{ ref('fct_ai_basket_members_daily') }}
    where {{ in_test_window('trade_date') }}

),

missing_inputs as (

    select basket_id, symbol, currency, trade_date, 'usd_per_unit' as missing_input
    from members_daily
    where usd_per_unit is null

    union all

    select basket_id, symbol, currency, trade_date, 'shares_outstanding' as missing_input
    from members_daily
    where shares_outstanding is null

)

select
    basket_id,
    symbol,
    missing_input,
    string_agg(distinct currency, ',') as currencies,
    min(trade_date) as first_missing_date,
    max(trade_date) as last_missing_date,
    count(*) as days_missing

from missing_inputs
group by basket_id, symbol, missing_input
