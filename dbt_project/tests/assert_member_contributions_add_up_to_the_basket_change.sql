-- Reads two models; the meta tells Dagster which asset the check belongs to.
{{ config(meta={'dagster': {'ref': {'name': 'fct_ai_basket_member_contribution'}}}) }}

-- The members' changes over a period add up to the basket's change (relative tolerance 1e-9), and that
-- change is the basket's own between the two dates.
with totals as (
    select basket_id, period, trade_date, base_date, sum(change_usd) as members_change, sum(abs(change_usd)) as members_abs_change, any_value(basket_change_usd) as basket_change
    from {{ ref('fct_ai_basket_member_contribution') }}
    where {{ in_test_window('trade_date') }}
    group by all
), now as (
    select basket_id, trade_date, market_cap_usd from {{ ref('fct_ai_basket_market_cap') }}
    where {{ in_test_window('trade_date') }}
), base as (
    -- a basket date of its own: one row per basket and date, joined once (a shared CTE for both
    -- sides let the planner pair every basket day with every other one first)
    select basket_id, trade_date, market_cap_usd from {{ ref('fct_ai_basket_market_cap') }}
)
select totals.*
from totals
inner join now on totals.basket_id = now.basket_id and totals.trade_date = now.trade_date
inner join base on totals.basket_id = base.basket_id and totals.base_date = base.trade_date
where {{ differs('totals.members_change', 'totals.basket_change', scale='totals.members_abs_change') }}
    -- the basket's two totals (1e12..1e14) each round at about 1e-16 of themselves: their difference is
    -- compared at their scale, not at the (much smaller) change's
    or {{ differs('totals.basket_change', 'now.market_cap_usd - base.market_cap_usd',
                  scale='greatest(abs(now.market_cap_usd), abs(base.market_cap_usd))') }}
