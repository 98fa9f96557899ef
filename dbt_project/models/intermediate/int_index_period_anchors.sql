-- One row per (index_id, trade_date) of the index's own series, with the reference closes behind its
-- daily, MTD, YTD and trailing one-year returns. Each look-back is its own as-of join so the rules
-- stay readable; anchors are always the index's own earlier closes. Incremental: an incremental run
-- recomputes the rows from the window start on, reading closes back to the earliest anchor.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

index_prices as (

    select index_id, trade_date, close
    from {{ ref('stg_index_prices') }}
    where {{ asof_lookback(ref('stg_index_prices'), ['index_id'], 'trade_date', anchors=true) }}

),

trading_days as (

    select
        index_id,
        trade_date,
        close,
        lag(trade_date) over by_index as previous_trade_date,
        lag(close) over by_index as previous_close,
        {{ month_start('trade_date') }} as month_start_date,
        {{ year_start('trade_date') }} as year_start_date,
        {{ one_year_before('trade_date') }} as one_year_back_target_date

    from index_prices
    window by_index as (partition by index_id order by trade_date)

),

-- previous_month_end, previous_year_end, one_year_back: the close at each look-back's anchor
{{ period_anchor_closes('trading_days', 'index_prices', 'index_id') }},

final as (

    select
        index_id,
        trade_date,
        close,
        previous_trade_date,
        previous_close,
        prev_month_end_date,
        prev_month_end_close,
        prev_year_end_date,
        prev_year_end_close,
        one_year_back_target_date,
        one_year_back_date,
        one_year_back_close

    from one_year_back
    where {{ in_window('trade_date') }}

)

select * from final
