-- Each basket member's own price returns over 1, 3 and 6 months, the year to date and one year, in its
-- listing currency and in US dollars. Anchors follow the index returns' rules: a month or year back is
-- the latest close on or before the same calendar day then (clamped to the month's end), the year to
-- date is measured from the last close of the previous year. Each close is converted with the FX rate
-- as of its own date. Incremental: the rows from the window start on, reading each symbol's closes back
-- to its one-year anchor (the earliest of the five).

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

{%- set periods = [('1m', 1), ('3m', 3), ('6m', 6), ('1y', 12)] %}

with

prices as (

    select basket_id, symbol, trade_date, close, currency from {{ ref('int_basket_member_prices') }}
    where {{ asof_lookback(ref('int_basket_member_prices'), ['symbol'], 'trade_date', anchors=true) }}

),

fx_rates as (

    select currency, trade_date, usd_per_unit from {{ ref('stg_fx_rates') }}

),

converted as (

    select
        prices.*,
        case when prices.currency = 'USD' then 1.0 else fx_rates.usd_per_unit end as usd_per_unit

    from prices
    asof left join fx_rates
        on prices.currency = fx_rates.currency
        and prices.trade_date >= fx_rates.trade_date

),

series as (

    select *, struct_pack(close := close, close_usd := close * usd_per_unit) as closes
    from converted

),

anchored as (

    -- each anchor is the symbol's latest row on or before the target date (months_before(), the last
    -- day of the previous year): a window frame ending that far back, one sort of the series for all
    -- five, where an as-of join per period sorted it five times
    select
        *,
        {%- for name, months in periods %}
        last_value(closes) over (
            partition by symbol order by trade_date
            range between unbounded preceding and interval {{ months }} month preceding
        ) as anchor_{{ name }},
        {%- endfor %}
        last_value(closes) over (
            partition by symbol order by trade_date
            range between unbounded preceding
                and cast(trade_date - ({{ year_start('trade_date') }} - 1) as integer) preceding
        ) as anchor_ytd

    from series

),

final as (

    select
        symbol,
        basket_id,
        trade_date,
        currency,
        close as close_local,
        usd_per_unit,
        closes.close_usd,
        {%- for name in ['1m', '3m', '6m', 'ytd', '1y'] %}
        close / anchor_{{ name }}.close - 1 as return_{{ name }},
        {%- endfor %}
        {%- for name in ['1m', '3m', '6m', 'ytd', '1y'] %}
        closes.close_usd / anchor_{{ name }}.close_usd - 1 as return_{{ name }}_usd{{ "," if not loop.last }}
        {%- endfor %}

    from anchored
    where {{ in_window('trade_date') }}

)

select * from final
