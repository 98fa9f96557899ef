-- Incremental: the rows from the window start on.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

members_asof as (

    select * from {{ ref('int_basket_members_asof') }}
    where {{ in_window('trade_date') }}

),

final as (

    -- NULL market cap where shares or FX are unknown as of the date; the row stays so the gap is
    -- visible (and tested) rather than silently shrinking the basket
    select
        basket_id,
        symbol,
        trade_date,
        close_local,
        currency,
        usd_per_unit,
        shares_outstanding,
        close_local * shares_outstanding * usd_per_unit as market_cap_usd

    from members_asof

)

select * from final
