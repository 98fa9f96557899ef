-- The headline indices' closes rebased to 100 at the base each period's return uses, for the report's
-- charts: YTD from the last close before January 1, 1Y from the close as of one year back (the same
-- look-back macros as the marts, so each line ends at 100 x (1 + the mart's return)). An index with no
-- such close starts at 100 on its first close in the period, and its label says so.

with

params as (

    select {{ headline_as_of_date() }} as as_of_date

),

periods as (

    select 'YTD' as period, {{ year_start('as_of_date') }} as period_start, false as base_on_start from params
    union all
    select '1Y', {{ one_year_before('as_of_date') }}, true from params

),

headline_indices as (

    {{ headline_indices() }}

),

closes as (

    select r.index_id, r.trade_date, r.close
    from {{ ref('fct_index_returns') }} as r
    cross join params
    where r.index_id in (select index_id from headline_indices) and r.trade_date <= params.as_of_date

),

bases as (

    select
        closes.index_id,
        periods.period,
        periods.period_start,
        coalesce(
            max(closes.trade_date) filter (
                where closes.trade_date < periods.period_start
                or (periods.base_on_start and closes.trade_date = periods.period_start)
            ),
            min(closes.trade_date) filter (where closes.trade_date >= periods.period_start)
        ) as base_date,
        max(closes.trade_date) filter (
            where closes.trade_date < periods.period_start
            or (periods.base_on_start and closes.trade_date = periods.period_start)
        ) is null as from_first_close
    from closes
    cross join periods
    group by all

),

final as (

    select
        params.as_of_date,
        bases.period,
        headline_indices.index_order,
        closes.index_id,
        headline_indices.name,
        headline_indices.name
        || case when bases.from_first_close then ' (from ' || strftime(bases.base_date, '%Y-%m-%d') || ')' else '' end
            as label,
        bases.period_start,
        bases.base_date,
        closes.trade_date,
        closes.close,
        100 * closes.close / first_value(closes.close) over (
            partition by closes.index_id, bases.period order by closes.trade_date
        ) as rebased

    from bases
    inner join closes on bases.index_id = closes.index_id and closes.trade_date >= bases.base_date
    inner join headline_indices on bases.index_id = headline_indices.index_id
    cross join params

)

select * from final
order by period, index_order, index_id, trade_date
