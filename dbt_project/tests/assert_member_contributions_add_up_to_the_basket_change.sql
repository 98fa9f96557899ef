-- Reads two models; the meta tells Dagster which asset the check belongs to.
{{ config(meta={'dagster': {'ref': {'name': 'fct_ai_basket_member_contribution'}}}) }}

-- The members' changes over a period add up to the basket's change (relative tolerance 1e-9), and that
-- change is the basket's own between the two dates.
with totals as (
    select basket_id, period, trade_date, base_date, sum(change_usd) as members_change, any_value(basket_change_usd) as basket_change
    from {{ ref('fct_ai_basket_member_contribution') }}
    where {{ in_test_window('trade_date') }}
    group by all
), basket as (
    select basket_id, trade_date, market_cap_usd from {{ ref('fct_ai_basket_market_cap') }}
)
select totals.*
from totals
inner join basket as now on totals.basket_id = now.basket_id and totals.trade_date = now.trade_date
inner join basket as base on totals.basket_id = base.basket_id and totals.base_date = base.trade_date
where {{ differs('totals.members_change', 'totals.basket_change') }}
    or {{ differs('totals.basket_change', 'now.market_cap_usd - base.market_cap_usd') }}
