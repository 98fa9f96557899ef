-- Reads two models; the meta tells Dagster which asset the check belongs to.
{{ config(meta={'dagster': {'ref': {'name': 'fct_ai_basket_market_cap'}}}) }}

-- A basket's daily market cap and priced-member count must equal its members' rows of that day,
-- within a relative tolerance for floating-point summation order.

with

basket_market_cap as (

    select * from {{ ref('fct_ai_basket_market_cap') }}
    where {{ in_test_window('trade_date') }}

),

members_daily as (

    select * from {{ ref('fct_ai_basket_members_daily') }}
    where {{ in_test_window('trade_date') }}

),

member_totals as (

    select
        basket_id,
        trade_date,
        count(market_cap_usd) as members_priced,
        sum(market_cap_usd) as market_cap_usd

    from members_daily
    group by basket_id, trade_date

)

select
    coalesce(basket_market_cap.basket_id, member_totals.basket_id) as basket_id,
    coalesce(basket_market_cap.trade_date, member_totals.trade_date) as trade_date,
    basket_market_cap.market_cap_usd as basket_market_cap_usd,
    member_totals.market_cap_usd as sum_of_members_usd,
    basket_market_cap.members_priced,
    member_totals.members_priced as members_with_market_cap

from basket_market_cap
full outer join member_totals
    on basket_market_cap.basket_id = member_totals.basket_id
    and basket_market_cap.trade_date = member_totals.trade_date

where basket_market_cap.basket_id is null
    or member_totals.basket_id is null
    or basket_market_cap.members_priced <> member_totals.members_priced
    or {{ differs('basket_market_cap.market_cap_usd', 'member_totals.market_cap_usd') }}
