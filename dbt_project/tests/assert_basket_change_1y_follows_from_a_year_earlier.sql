-- market_cap_usd_1y_ago is the basket's latest non-NULL value as of the same calendar day a year
-- earlier, and change_1y_usd / change_1y_pct follow from it: recomputed here from the mart's own rows,
-- so a wrong anchor (or a Feb 29 slip) in the model fails, whatever the window an incremental run took.

with

basket_market_cap as (

    select * from {{ ref('fct_ai_basket_market_cap') }}

),

valued as (

    select basket_id, trade_date, market_cap_usd
    from basket_market_cap
    where market_cap_usd is not null

),

anchored as (

    select
        basket_market_cap.*,
        valued.market_cap_usd as expected_1y_ago

    from basket_market_cap
    asof left join valued
        on basket_market_cap.basket_id = valued.basket_id
        and {{ one_year_before('basket_market_cap.trade_date') }} >= valued.trade_date

),

expected as (

    select
        *,
        market_cap_usd - expected_1y_ago as expected_change_1y_usd,
        100 * (market_cap_usd / expected_1y_ago - 1) as expected_change_1y_pct

    from anchored

)

select
    basket_id,
    trade_date,
    market_cap_usd,
    market_cap_usd_1y_ago,
    expected_1y_ago,
    change_1y_usd,
    expected_change_1y_usd,
    change_1y_pct,
    expected_change_1y_pct

from expected

where {{ differs('market_cap_usd_1y_ago', 'expected_1y_ago') }}
    or {{ differs('change_1y_usd', 'expected_change_1y_usd') }}
    or {{ differs('change_1y_pct', 'expected_change_1y_pct') }}
