-- The headline as of one date (var as_of, default the latest date in the marts): one row per fact,
-- each value the latest on or before that date, dated per side it rests on. A side that trails the
-- report date by more than max_sessions_apart sessions of its own exchange(s) marks the line
-- dates_mismatched, and a comparison between sides that far apart gives no verdict. Index returns come
-- in each index's own currency and in USD; baskets go by their seed names.

with

params as (

    select
        {{ headline_as_of_date() }} as as_of_date,
        cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp) as generated_at,
        {{ var('max_sessions_apart') }} as max_apart

),

raw_sources as (

    select distinct source from {{ source('raw', 'index_prices') }}
    union
    select distinct source from {{ source('raw', 'stock_prices') }}

),

data_label as (

    -- the bundled sample's rows say so in their source: the label says "synthetic sample" only when
    -- every row is the sample's, and names the other sources when some are not
    select
        case
            when count(*) = 0 then 'no data'
            when bool_and(source like 'sample:%') then 'synthetic sample'
            when bool_or(source like 'sample:%')
                then 'synthetic sample mixed with '
                || string_agg(source, ', ' order by source) filter (where source not like 'sample:%')
            else string_agg(source, ', ' order by source)
        end as data_label
    from raw_sources
    where source is not null

),

baskets as (

    select basket_id, name from {{ ref('stg_baskets') }}

),

headline_pair as (

    select h.basket_id as cn, h.compare_with as peer, h.name as cn_name, p.name as peer_name
    from {{ ref('stg_baskets') }} as h
    left join baskets as p on h.compare_with = p.basket_id
    where h.is_headline

),

headline_indices as (

    {{ headline_indices() }}

),

sides as (

    select index_id as side, coalesce(calendar, 'WEEKDAYS') as calendar from {{ ref('dim_index') }}
    union
    select basket_id, coalesce(calendar, 'WEEKDAYS') from {{ ref('dim_security') }} where basket_id is not null

),

side_sessions as (

    -- a side whose exchanges were all closed (its own holidays) has missed nothing
    select distinct sides.side, sessions.session_date
    from sides
    inner join {{ source('reference', 'exchange_sessions') }} as sessions on sides.calendar = sessions.calendar
    cross join params
    where sessions.session_date <= params.as_of_date

),

index_latest as (

    select r.index_id, r.trade_date, r.mtd_return, r.ytd_return, r.trailing_1y_return
    from {{ ref('fct_index_returns') }} as r, params as p
    where r.index_id in (select index_id from headline_indices) and r.trade_date <= p.as_of_date
    qualify row_number() over (partition by r.index_id order by r.trade_date desc) = 1

),

index_latest_usd as (

    -- the same dates as index_latest: one series, two currencies
    select u.index_id, u.trade_date, u.mtd_return_usd, u.ytd_return_usd, u.trailing_1y_return_usd
    from {{ ref('fct_index_returns_usd') }} as u
    inner join index_latest as l on u.index_id = l.index_id and u.trade_date = l.trade_date

),

index_periods as (

    -- measure `return` in the index's own currency, `return_usd` in US dollars
    select index_id, trade_date, 'MTD' as period, 1 as period_order, 'return' as measure, mtd_return as index_return from index_latest
    union all
    select index_id, trade_date, 'YTD', 2, 'return', ytd_return from index_latest
    union all
    select index_id, trade_date, '1Y', 3, 'return', trailing_1y_return from index_latest
    union all
    select index_id, trade_date, 'MTD', 4, 'return_usd', mtd_return_usd from index_latest_usd
    union all
    select index_id, trade_date, 'YTD', 5, 'return_usd', ytd_return_usd from index_latest_usd
    union all
    select index_id, trade_date, '1Y', 6, 'return_usd', trailing_1y_return_usd from index_latest_usd

),

benchmarks as (

    select index_id as benchmark_id, currency as benchmark_currency from {{ ref('dim_index') }} where is_benchmark

),

relative_both as (

    select *, 'return' as measure from {{ ref('fct_relative_performance') }}
    union all by name
    select *, 'return_usd' as measure from {{ ref('fct_relative_performance_usd') }}

),

relative as (

    select
        rp.index_id, rp.benchmark_id, rp.period, rp.measure, rp.benchmark_return, rp.excess_return, rp.outperformed,
        case when rp.measure = 'return_usd' then 'USD' else b.benchmark_currency end as benchmark_currency,
        -- the benchmark close the mart compared with: its latest on or before the index's date
        (
            select max(c.trade_date) from {{ ref('fct_index_returns') }} as c
            where c.index_id = rp.benchmark_id and c.trade_date <= rp.trade_date
        ) as benchmark_date
    from relative_both as rp
    inner join index_latest as l on rp.index_id = l.index_id and rp.trade_date = l.trade_date
    inner join benchmarks as b on rp.benchmark_id = b.benchmark_id

),

index_rows as (

    select
        1 as topic_order, h.index_order, 0 as sub_order, ip.period_order as measure_order, 'index_return' as topic,
        ip.index_id as subject, h.name as subject_name, ip.period, ip.measure, ip.index_return as value,
        'fraction' as unit, ip.trade_date as value_date, r.benchmark_id, r.benchmark_return as benchmark_value,
        r.excess_return, r.outperformed,
        case
            when ip.index_return is not null
                then rank() over (partition by ip.period, ip.measure order by ip.index_return desc nulls last)
        end as rank,
        case when ip.measure = 'return_usd' then 'USD' else h.currency end as currency,
        h.currency as index_currency, ip.index_id as subject_side, ip.trade_date as subject_as_of,
        r.benchmark_id as compared_with, r.benchmark_date as compared_as_of,
        h.name || ' ' || coalesce(printf('%+.1f%%', 100 * ip.index_return), 'n/a') || ' ' || ip.period
        || coalesce(' in ' || case when ip.measure = 'return_usd' then 'USD' else h.currency end, '')
        || ' to ' || strftime(ip.trade_date, '%Y-%m-%d') as claim,
        ' vs ' || r.benchmark_id || ' ' || coalesce(printf('%+.1f%%', 100 * r.benchmark_return), 'n/a')
        || coalesce(' in ' || r.benchmark_currency, '')
        || case
            when r.benchmark_date <> ip.trade_date then ' to ' || strftime(r.benchmark_date, '%Y-%m-%d')
            else ''
        end as versus,
        case when r.outperformed then ': ahead by ' when not r.outperformed then ': behind by ' else '' end
        || coalesce(printf('%.1f pts', abs(100 * r.excess_return)), '') as verdict
    from index_periods as ip
    inner join headline_indices as h on ip.index_id = h.index_id
    left join relative as r on ip.index_id = r.index_id and ip.period = r.period and ip.measure = r.measure

),

basket_latest as (

    select b.*, {{ one_year_before('b.trade_date') }} as one_year_back_date
    from {{ ref('fct_ai_basket_market_cap') }} as b, params as p
    where b.trade_date <= p.as_of_date
    qualify row_number() over (partition by b.basket_id order by b.trade_date desc) = 1

),

basket_rows as (

    select
        2 as topic_order, case when b.basket_id = hp.cn then 1 else 2 end as index_order, m.measure_order,
        'ai_market_cap' as topic, b.basket_id as subject, coalesce(n.name, b.basket_id) as subject_name, null as period,
        m.measure, m.value, m.unit, b.trade_date as value_date, m.base_date
    from basket_latest as b
    left join baskets as n on b.basket_id = n.basket_id
    cross join headline_pair as hp,
        lateral (values
            (1, 'market_cap_usd', b.market_cap_usd, 'usd', null::date),
            (2, 'market_cap_usd_1y_ago', b.market_cap_usd_1y_ago, 'usd', b.one_year_back_date),
            (3, 'change_1y_usd', b.change_1y_usd, 'usd', b.one_year_back_date),
            (4, 'change_1y_pct', b.change_1y_pct, 'percent', b.one_year_back_date),
            (5, 'members_priced', b.members_priced::double, 'count', null::date),
            (6, 'members', b.members::double, 'count', null::date)
        ) as m (measure_order, measure, value, unit, base_date)
    -- the peer basket: its value and its own one-year change
    where b.basket_id = hp.cn or (b.basket_id = hp.peer and m.measure_order <= 4)

),

basket_valued as (

    select basket_id, trade_date from {{ ref('fct_ai_basket_market_cap') }} where market_cap_usd is not null

),

ratio_rows as (

    select
        3 as topic_order, 1 as index_order, m.measure_order, 'ai_market_cap_ratio' as topic,
        hp.cn || '/' || hp.peer as subject, hp.cn_name || ' / ' || hp.peer_name as subject_name, null as period,
        m.measure, m.value, 'fraction' as unit, r.trade_date as value_date, m.base_date,
        hp.cn, hp.peer, hp.cn_name, hp.peer_name,
        -- the mart carries each basket's latest value forward: these are the dates of the two values
        (
            select max(v.trade_date) from basket_valued as v
            where v.basket_id = hp.cn and v.trade_date <= r.trade_date
        ) as cn_date,
        (
            select max(v.trade_date) from basket_valued as v
            where v.basket_id = hp.peer and v.trade_date <= r.trade_date
        ) as peer_date
    from {{ ref('fct_ai_market_cap_ratio') }} as r
    cross join params as p
    cross join headline_pair as hp
    -- the same pair a year earlier: its comparison row as of one year back
    left join {{ ref('fct_ai_basket_comparison_1y') }} as c
        on c.basket_id = hp.cn and c.compared_with = hp.peer and c.trade_date = r.trade_date
    cross join lateral (values
        (1, 'cn_to_peer_ratio', r.cn_to_peer_ratio, null::date),
        (2, 'cn_to_peer_ratio_1y_ago', c.ratio_1y_ago, c.base_date)
    ) as m (measure_order, measure, value, base_date)
    -- not `qualify row_number() over (order by ...) = 1`: DuckDB 1.5.5 rewrites that into an aggregate
    -- which returns one all-NULL row when nothing qualifies
    where r.trade_date = (
        select max(trade_date) from {{ ref('fct_ai_market_cap_ratio') }} where trade_date <= p.as_of_date
    )

),

contribution_periods as (

    select period, list_position({{ var_list('headline_contribution_periods') }}, period) as period_order
    from (select unnest({{ var_list('headline_contribution_periods') }}) as period)

),

contributions as (

    -- the headline basket's top movers over each period to its latest row: members, then subsectors
    select
        c.basket_id, cp.period_order, 1 as kind, c.period, c.symbol as subject, coalesce(s.name, c.symbol) as subject_name,
        'member_change_usd' as measure, c.change_usd, c.share_of_change, c.trade_date, c.base_date,
        c.basket_change_usd, c.contribution_rank, c.symbol || coalesce(', ' || c.subsector, '') as detail
    from {{ ref('fct_ai_basket_member_contribution') }} as c
    inner join contribution_periods as cp on c.period = cp.period
    left join {{ ref('dim_security') }} as s on c.symbol = s.symbol
    where c.contribution_rank <= {{ var('headline_top_contributors') }}
    union all
    select
        c.basket_id, cp.period_order, 2, c.period, c.subsector, c.subsector,
        'subsector_change_usd', c.change_usd, c.share_of_change, c.trade_date, c.base_date,
        c.basket_change_usd, c.contribution_rank, c.members || ' member' || case when c.members = 1 then '' else 's' end
    from {{ ref('fct_ai_basket_subsector_contribution') }} as c
    inner join contribution_periods as cp on c.period = cp.period
    where c.contribution_rank <= {{ var('headline_top_subsectors') }}

),

contribution_rows as (

    select
        4 as topic_order, c.period_order as index_order, 100 * c.kind + c.contribution_rank as sub_order,
        1 as measure_order, 'ai_contribution' as topic, c.subject, c.subject_name, c.period, c.measure,
        c.change_usd as value, 'usd' as unit, c.trade_date as value_date, c.base_date,
        c.contribution_rank as rank, b.basket_id as subject_side,
        '#' || c.contribution_rank || ' ' || case when c.kind = 1 then 'member' else 'subsector' end
        || ' in the ' || c.period || ' change of ' || hp.cn_name || ' (' || hp.cn || ') to '
        || strftime(c.trade_date, '%Y-%m-%d') || ' ('
        || (case when c.basket_change_usd < 0 then '-' else '+' end) || printf('USD %,.1f bn', abs(c.basket_change_usd) / 1e9)
        || ' since ' || strftime(c.base_date, '%Y-%m-%d') || '): ' || c.subject_name || ' (' || c.detail || ') '
        || (case when c.change_usd < 0 then '-' else '+' end) || printf('USD %,.1f bn', abs(c.change_usd) / 1e9)
        || coalesce(printf(', %.1f%% of the change', 100 * c.share_of_change), '') as claim
    from contributions as c
    cross join headline_pair as hp
    inner join basket_latest as b
        on c.basket_id = hp.cn and b.basket_id = hp.cn and c.trade_date = b.trade_date
    where c.subject is not null

),

facts as (

    select
        topic_order, index_order, sub_order, measure_order, topic, subject, subject_name, period, measure, value, unit,
        value_date, null::date as base_date, benchmark_id, benchmark_value, excess_return, outperformed, rank,
        currency, subject_side, subject_as_of, compared_with, compared_as_of, claim, versus, verdict
    from index_rows
    -- a USD index's USD return is its return: one line, ranked among the USD returns all the same
    where not (measure = 'return_usd' and index_currency = 'USD')

    union all

    select
        topic_order, index_order, 0, measure_order, topic, subject, subject_name, period, measure, value, unit,
        value_date, base_date, null, null, null, null, null, case when unit in ('usd', 'percent') then 'USD' end,
        subject, value_date, null, null,
        subject_name || ' (' || subject || ') '
        || case measure
            when 'market_cap_usd' then 'market cap on '
            when 'market_cap_usd_1y_ago' then 'market cap one year before '
            when 'change_1y_usd' then 'change over the year to '
            when 'change_1y_pct' then 'change over the year to '
            when 'members_priced' then 'members priced on '
            else 'members configured on '
        end
        || strftime(value_date, '%Y-%m-%d') || ': '
        || coalesce(
            case
                when measure = 'change_1y_usd'
                    then (case when value < 0 then '-' else '+' end) || printf('USD %,.1f bn', abs(value) / 1e9)
                when unit = 'usd' then printf('USD %,.1f bn', value / 1e9)
                when unit = 'percent' then printf('%+.1f%% in USD', value)
                else printf('%d', value::bigint)
            end,
            'n/a'
        ),
        null, null
    from basket_rows

    union all

    select
        topic_order, index_order, 0, measure_order, topic, subject, subject_name, period, measure, value, unit,
        value_date, base_date, null, null, null, null, null, 'USD', cn, cn_date, peer, peer_date,
        -- a ratio of the two, not a share of their total
        cn_name || ' (' || cn || ') worth ' || coalesce(printf('%.2f%%', 100 * value), 'n/a')
        || ' of the market cap of ' || peer_name || ' (' || peer || ')'
        || case
            when measure = 'cn_to_peer_ratio' then ' on ' || strftime(value_date, '%Y-%m-%d')
            else coalesce(' one year earlier, on ' || strftime(base_date, '%Y-%m-%d'), ' one year earlier: no data that far back')
        end
        || case
            when cn_date <> value_date or peer_date <> value_date
                then ' (' || cn || ' value of ' || strftime(cn_date, '%Y-%m-%d') || ', ' || peer || ' of '
                || strftime(peer_date, '%Y-%m-%d') || ')'
            else ''
        end,
        null, null
    from ratio_rows

    union all

    select
        topic_order, index_order, sub_order, measure_order, topic, subject, subject_name, period, measure, value, unit,
        value_date, base_date, null, null, null, null, rank, 'USD', subject_side, value_date, null, null,
        claim, null, null
    from contribution_rows

),

dated as (

    select
        f.*,
        {{ sessions_missed('f.subject_side', 'f.subject_as_of', 'p.as_of_date') }} as subject_behind,
        case
            when f.compared_with is not null
                then {{ sessions_missed('f.compared_with', 'f.compared_as_of', 'p.as_of_date') }}
        end as compared_behind,
        -- the older side's own sessions between the two sides' dates
        case
            when f.compared_as_of < f.subject_as_of
                then {{ sessions_missed('f.compared_with', 'f.compared_as_of', 'f.subject_as_of') }}
            when f.compared_as_of > f.subject_as_of
                then {{ sessions_missed('f.subject_side', 'f.subject_as_of', 'f.compared_as_of') }}
            when f.compared_with is not null then 0
        end as sides_apart
    from facts as f, params as p

),

flagged as (

    select
        d.*,
        greatest(d.subject_behind, coalesce(d.compared_behind, 0)) as sessions_behind,
        -- both sides are on or before the report date, so sides_apart > max_apart implies this too
        greatest(d.subject_behind, coalesce(d.compared_behind, 0)) > p.max_apart as dates_mismatched,
        nullif(concat_ws('; ',
            case
                when d.subject_behind > p.max_apart
                    then d.subject_side || ' data ends ' || strftime(d.subject_as_of, '%Y-%m-%d') || ', '
                    || d.subject_behind || ' sessions before ' || strftime(p.as_of_date, '%Y-%m-%d')
            end,
            case
                when d.compared_behind > p.max_apart
                    then d.compared_with || ' data ends ' || strftime(d.compared_as_of, '%Y-%m-%d') || ', '
                    || d.compared_behind || ' sessions before ' || strftime(p.as_of_date, '%Y-%m-%d')
            end
        ), '') as note
    from dated as d, params as p

),

final as (

    select
        p.as_of_date,
        row_number() over (order by f.topic_order, f.index_order, f.sub_order, f.subject, f.measure_order)::integer as line,
        f.topic, f.subject, f.subject_name, f.period, f.measure, f.value, f.unit, f.value_date, f.base_date,
        f.benchmark_id, f.benchmark_value, f.excess_return, f.outperformed, f.rank::integer as rank,
        f.claim || coalesce(f.versus, '')
        || case
            when f.versus is null then ''
            when f.sides_apart > p.max_apart then ': not comparable'
            else coalesce(f.verdict, '')
        end
        || case when f.dates_mismatched then ' [dates mismatched: ' || f.note || ']' else '' end as headline,
        l.data_label, p.generated_at,
        f.currency, f.subject_as_of, f.compared_with, f.compared_as_of, f.sides_apart::integer as sessions_apart,
        f.sides_apart <= p.max_apart as comparable,
        f.sessions_behind::integer as sessions_behind, f.dates_mismatched, f.note
    from flagged as f, params as p, data_label as l

)

select * from final
order by line
