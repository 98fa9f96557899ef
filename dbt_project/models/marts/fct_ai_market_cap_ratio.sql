-- The headline comparison of the contract: the baskets seed's `is_headline` pair (CN_AI against
-- GLOBAL_AI_EX_CN) from fct_ai_basket_comparison, with the contract's column names.
-- Incremental on the same window as the comparison it reads.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

baskets as (

    select * from {{ ref('stg_baskets') }}

),

basket_comparison as (

    select * from {{ ref('fct_ai_basket_comparison') }}
    where {{ in_window('trade_date') }}

),

final as (

    select
        basket_comparison.trade_date,
        basket_comparison.market_cap_usd as cn_market_cap_usd,
        basket_comparison.compared_market_cap_usd as peer_market_cap_usd,
        basket_comparison.ratio as cn_to_peer_ratio

    from basket_comparison
    inner join baskets
        on basket_comparison.basket_id = baskets.basket_id
        and basket_comparison.compared_with = baskets.compare_with
    where baskets.is_headline

)

select * from final
