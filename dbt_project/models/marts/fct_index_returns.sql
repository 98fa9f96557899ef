-- Incremental: the rows from the window start on (int_index_period_anchors holds their anchors).

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

anchors as (

    select * from {{ ref('int_index_period_anchors') }}
    where {{ in_window('trade_date') }}

),

index_catalog as (

    select index_id, currency from {{ ref('stg_index_catalog') }}

),

final as (

    -- a NULL anchor (the series starts later) gives a NULL return, never a return against zero
    select
        anchors.index_id,
        anchors.trade_date,
        anchors.close,
        index_catalog.currency,
        anchors.close / anchors.previous_close - 1 as daily_return,
        anchors.close / anchors.prev_month_end_close - 1 as mtd_return,
        anchors.close / anchors.prev_year_end_close - 1 as ytd_return,
        anchors.close / anchors.one_year_back_close - 1 as trailing_1y_return

    from anchors
    left join index_catalog
        on anchors.index_id = index_catalog.index_id

)

select * from final
