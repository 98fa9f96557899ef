-- Incremental: the days from the window start on, summed from the members' rows back to the
-- earliest one-year look-back (the year-ago value is the basket's own sum then).

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

members_daily as (

    select * from {{ ref('fct_ai_basket_members_daily') }}
    where {{ asof_lookback(ref('fct_ai_basket_members_daily'), ['basket_id'], 'trade_date', anchors=true, where='market_cap_usd is not null') }}

),

configured_members as (

    -- every configured member counts, listed yet or not
    select
        basket_id,
        count(*) as members

    from {{ ref('stg_ai_basket_members') }}
    group by basket_id

),

daily_totals as (

    -- sum() over only NULLs is NULL: a day with no priced member has an unknown value, not zero
    select
        basket_id,
        trade_date,
        count(market_cap_usd) as members_priced,
        sum(market_cap_usd) as market_cap_usd,
        {{ one_year_before('trade_date') }} as one_year_back_target_date

    from members_daily
    group by basket_id, trade_date

),

valued_days as (

    select basket_id, trade_date, market_cap_usd
    from daily_totals
    where market_cap_usd is not null

),

one_year_back as (

    select
        daily_totals.*,
        year_ago.market_cap_usd as market_cap_usd_1y_ago

    from daily_totals
    asof left join valued_days as year_ago
        on daily_totals.basket_id = year_ago.basket_id
        and daily_totals.one_year_back_target_date >= year_ago.trade_date

),

final as (

    select
        one_year_back.basket_id,
        one_year_back.trade_date,
        configured_members.members,
        one_year_back.members_priced,
        one_year_back.market_cap_usd,
        one_year_back.market_cap_usd_1y_ago,
        one_year_back.market_cap_usd - one_year_back.market_cap_usd_1y_ago as change_1y_usd,
        -- in percent: 88.0 means +88%
        100 * (one_year_back.market_cap_usd / one_year_back.market_cap_usd_1y_ago - 1) as change_1y_pct

    from one_year_back
    inner join configured_members
        on one_year_back.basket_id = configured_members.basket_id
    where {{ in_window('one_year_back.trade_date') }}

)

select * from final
