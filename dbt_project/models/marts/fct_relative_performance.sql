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

)

{{ relative_performance_periods('paired') }}
