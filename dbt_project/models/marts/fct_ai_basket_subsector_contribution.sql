-- fct_ai_basket_member_contribution summed by subsector (the seed's value-chain step). Incremental on
-- the same window as the member rows it sums.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

members as (

    select * from {{ ref('fct_ai_basket_member_contribution') }}
    where {{ in_window('trade_date') }}

),

by_subsector as (

    select
        basket_id,
        coalesce(subsector, 'unclassified') as subsector,
        period,
        trade_date,
        base_date,
        count(*) as members,
        sum(market_cap_usd) as market_cap_usd,
        sum(market_cap_usd_base) as market_cap_usd_base,
        sum(change_usd) as change_usd,
        any_value(basket_change_usd) as basket_change_usd,
        sum(contribution_pct_points) as contribution_pct_points

    from members
    group by all

),

final as (

    select
        basket_id,
        subsector,
        period,
        trade_date,
        base_date,
        members,
        market_cap_usd,
        market_cap_usd_base,
        change_usd,
        basket_change_usd,
        change_usd / nullif(basket_change_usd, 0) as share_of_change,
        contribution_pct_points,
        rank() over (
            partition by basket_id, period, trade_date
            order by case when basket_change_usd < 0 then -change_usd else change_usd end desc
        )::integer as contribution_rank

    from by_subsector

)

select * from final
