-- fct_relative_performance with both sides in US dollars: the index's USD return against the
-- benchmark's, the benchmark's closes (as of the index's date, and at its anchors) each converted as of
-- its own date as in fct_index_returns_usd. Same rows as fct_relative_performance.

with

benchmark_returns as (

    select * from {{ ref('int_benchmark_returns_asof') }}

),

usd as (

    select * from {{ ref('fct_index_returns_usd') }}

),

paired as (

    select
        b.index_id,
        b.benchmark_id,
        b.trade_date,
        i.mtd_return_usd,
        i.ytd_return_usd,
        i.trailing_1y_return_usd,
        now.close_usd / month_end.close_usd - 1 as benchmark_mtd_return_usd,
        now.close_usd / year_end.close_usd - 1 as benchmark_ytd_return_usd,
        now.close_usd / year_back.close_usd - 1 as benchmark_trailing_1y_return_usd

    from benchmark_returns as b
    inner join usd as i
        on b.index_id = i.index_id and b.trade_date = i.trade_date
    inner join usd as now
        on b.benchmark_id = now.index_id and b.benchmark_close_date = now.trade_date
    left join usd as month_end
        on b.benchmark_id = month_end.index_id and b.benchmark_prev_month_end_date = month_end.trade_date
    left join usd as year_end
        on b.benchmark_id = year_end.index_id and b.benchmark_prev_year_end_date = year_end.trade_date
    left join usd as year_back
        on b.benchmark_id = year_back.index_id and b.benchmark_one_year_back_date = year_back.trade_date

)

{{ relative_performance_periods('paired', suffix='_usd') }}
