-- fct_index_returns in US dollars. Each close of an index is converted with the FX rate as of its own
-- date (fct_fx_rates; USD at 1), and a USD return compares two converted closes at the same anchors as
-- the local return: so it is the local return compounded with the currency's move between the anchor
-- and d. Rebuilt whole: a few thousand rows per index.

with

anchors as (

    select * from {{ ref('int_index_period_anchors') }}

),

catalog as (

    select index_id, currency from {{ ref('stg_index_catalog') }}

),

fx_rates as (

    select currency, trade_date, usd_per_unit from {{ ref('stg_fx_rates') }}

),

closes as (

    select
        anchors.index_id,
        anchors.trade_date,
        anchors.close,
        catalog.currency

    from anchors
    inner join catalog
        on anchors.index_id = catalog.index_id

),

converted as (

    -- left: a close before the currency's first rate has no USD value
    select
        closes.*,
        case when closes.currency = 'USD' then 1.0 else fx_rates.usd_per_unit end as usd_per_unit

    from closes
    asof left join fx_rates
        on closes.currency = fx_rates.currency
        and closes.trade_date >= fx_rates.trade_date

),

usd_closes as (

    select *, close * usd_per_unit as close_usd from converted

),

-- the anchors are closes of the same series: their USD value is that row's
final as (

    select
        a.index_id,
        a.trade_date,
        u.currency,
        a.close,
        u.usd_per_unit,
        u.close_usd,
        u.close_usd / prev.close_usd - 1 as daily_return_usd,
        u.close_usd / month_end.close_usd - 1 as mtd_return_usd,
        u.close_usd / year_end.close_usd - 1 as ytd_return_usd,
        u.close_usd / year_back.close_usd - 1 as trailing_1y_return_usd

    from anchors as a
    inner join usd_closes as u
        on a.index_id = u.index_id and a.trade_date = u.trade_date
    left join usd_closes as prev
        on a.index_id = prev.index_id and a.previous_trade_date = prev.trade_date
    left join usd_closes as month_end
        on a.index_id = month_end.index_id and a.prev_month_end_date = month_end.trade_date
    left join usd_closes as year_end
        on a.index_id = year_end.index_id and a.prev_year_end_date = year_end.trade_date
    left join usd_closes as year_back
        on a.index_id = year_back.index_id and a.one_year_back_date = year_back.trade_date

)

select * from final
