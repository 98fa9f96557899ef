-- Incremental: the rows from the window start on; both inputs are dated by the index's own date.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

index_returns as (

    select * from {{ ref('fct_index_returns') }}
    where {{ in_window('trade_date') }}

),

benchmark_returns as (

    select * from {{ ref('int_benchmark_returns_asof') }}
    where {{ in_window('trade_date') }}

),

paired as (

    select
        benchmark_returns.index_id,
        benchmark_returns.benchmark_id,
        benchmark_returns.trade_date,
        index_returns.mtd_return,
        index_returns.ytd_return,
        index_returns.trailing_1y_return,
        benchmark_returns.benchmark_mtd_return,
        benchmark_returns.benchmark_ytd_return,
        benchmark_returns.benchmark_trailing_1y_return

    from benchmark_returns
    inner join index_returns
        on benchmark_returns.index_id = index_returns.index_id
        and benchmark_returns.trade_date = index_returns.trade_date

),

by_period as (

    select
        index_id, benchmark_id, trade_date, 'MTD' as period,
        mtd_return as index_return,
        benchmark_mtd_return as benchmark_return
    from paired

    union all

    select
        index_id, benchmark_id, trade_date, 'YTD' as period,
        ytd_return as index_return,
        benchmark_ytd_return as benchmark_return
    from paired

    union all

    select
        index_id, benchmark_id, trade_date, '1Y' as period,
        trailing_1y_return as index_return,
        benchmark_trailing_1y_return as benchmark_return
    from paired

),

final as (

    -- arithmetic and comparison with NULL stay NULL: no verdict when either side is unknown
    select
        index_id,
        benchmark_id,
        trade_date,
        period,
        index_return,
        benchmark_return,
        index_return - benchmark_return as excess_return,
        index_return - benchmark_return > 0 as outperformed

    from by_period

)

select * from final
