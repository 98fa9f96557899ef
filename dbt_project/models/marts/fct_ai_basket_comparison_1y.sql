-- Each comparison of fct_ai_basket_comparison now and one year earlier: both baskets' one-year
-- change and the ratio then. "A year earlier" is the pair's own row as of the same calendar day a year
-- back (Feb 29 -> Feb 28), so the old ratio and the old market caps come from one row.

with

comparison as (

    select * from {{ ref('fct_ai_basket_comparison') }}

),

targets as (

    select *, {{ one_year_before('trade_date') }} as one_year_back_target_date from comparison

),

with_year_ago as (

    select
        targets.*,
        year_ago.trade_date as base_date,
        year_ago.market_cap_usd as market_cap_usd_1y_ago,
        year_ago.compared_market_cap_usd as compared_market_cap_usd_1y_ago,
        year_ago.ratio as ratio_1y_ago

    from targets
    asof left join comparison as year_ago
        on targets.basket_id = year_ago.basket_id
        and targets.compared_with = year_ago.compared_with
        and targets.one_year_back_target_date >= year_ago.trade_date

),

final as (

    select
        basket_id,
        compared_with,
        trade_date,
        market_cap_usd,
        compared_market_cap_usd,
        ratio,
        base_date,
        market_cap_usd_1y_ago,
        compared_market_cap_usd_1y_ago,
        ratio_1y_ago,
        100 * (market_cap_usd / market_cap_usd_1y_ago - 1) as change_1y_pct,
        100 * (compared_market_cap_usd / compared_market_cap_usd_1y_ago - 1) as compared_change_1y_pct

    from with_year_ago

)

select * from final
