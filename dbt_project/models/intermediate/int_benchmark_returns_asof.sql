-- One row per (index_id, benchmark_id, trade_date) for each trading day d of every non-benchmark
-- index on which the benchmark has a close as of d. The benchmark side is measured on the index's
-- calendar: its close as of d against its own closes at d's anchors. Markets keep different
-- holidays, so the benchmark's last close may predate d (and its MTD is 0 on the first trading day
-- of a month before it has traded in that month). Incremental: the index dates from the window start
-- on, the benchmark's closes back to the earliest anchor.

{{ config(materialized='incremental', incremental_strategy='window_replace', on_schema_change='fail') }}

with

index_prices as (

    select index_id, trade_date
    from {{ ref('stg_index_prices') }}
    where {{ in_window('trade_date') }}

),

benchmark_prices as (

    select
        index_id as benchmark_id,
        trade_date,
        close

    from {{ ref('stg_index_prices') }}
    where index_id in (select index_id from {{ ref('stg_index_catalog') }} where role = 'benchmark')
        and {{ asof_lookback(ref('stg_index_prices'), ['index_id'], 'trade_date', anchors=true) }}

),

benchmarks as (

    select distinct benchmark_id from benchmark_prices

),

comparison_days as (

    select
        index_prices.index_id,
        benchmarks.benchmark_id,
        index_prices.trade_date,
        {{ month_start('index_prices.trade_date') }} as month_start_date,
        {{ year_start('index_prices.trade_date') }} as year_start_date,
        {{ one_year_before('index_prices.trade_date') }} as one_year_back_target_date

    from index_prices
    cross join benchmarks
    where index_prices.index_id <> benchmarks.benchmark_id

),

benchmark_close_asof as (

    -- inner: no row before the benchmark's first close
    select
        comparison_days.*,
        benchmark.trade_date as benchmark_close_date,
        benchmark.close as benchmark_close

    from comparison_days
    asof inner join benchmark_prices as benchmark
        on comparison_days.benchmark_id = benchmark.benchmark_id
        and comparison_days.trade_date >= benchmark.trade_date

),

-- previous_month_end, previous_year_end, one_year_back: the close at each look-back's anchor
{{ period_anchor_closes('benchmark_close_asof', 'benchmark_prices', 'benchmark_id', prefix='benchmark_') }},

final as (

    select
        index_id,
        benchmark_id,
        trade_date,
        benchmark_close_date,
        benchmark_close,
        benchmark_prev_month_end_date,
        benchmark_prev_month_end_close,
        benchmark_prev_year_end_date,
        benchmark_prev_year_end_close,
        benchmark_one_year_back_date,
        benchmark_one_year_back_close,
        benchmark_close / benchmark_prev_month_end_close - 1 as benchmark_mtd_return,
        benchmark_close / benchmark_prev_year_end_close - 1 as benchmark_ytd_return,
        benchmark_close / benchmark_one_year_back_close - 1 as benchmark_trailing_1y_return

    from one_year_back

)

select * from final
