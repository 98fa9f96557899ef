-- The marts as one plain DuckDB script over the snapshot CSVs: the physical limit of the engine that
-- the project's full build is measured against (benchmarks/scale.py). Every mart whose rows grow with
-- the members (the contract marts, the security returns and the two contribution marts); the
-- index-sized ones (USD variants, FX, comparisons, the reports: under a second each in the project) are
-- left out. Written from the
-- definitions in docs/warehouse.md, not from the dbt models, so it also cross-checks them. It persists
-- what the warehouse persists (raw, reference, marts) with the same row filters (prices of configured
-- symbols from the start date on), but validates nothing and keeps no intermediate tables.
-- Placeholders: {snapshot}, {seeds}, {start}.

create schema raw;
create schema reference;
create schema marts;

create table reference.index_catalog as
select * from read_csv('{seeds}/index_catalog.csv', header = true, all_varchar = true);

create table reference.ai_basket_members as
select * from read_csv('{seeds}/ai_basket_members.csv', header = true, columns = {
    'basket_id': 'VARCHAR', 'symbol': 'VARCHAR', 'name': 'VARCHAR', 'subsector': 'VARCHAR',
    'currency': 'VARCHAR', 'calendar': 'VARCHAR', 'listed_on': 'DATE'});

create table raw.index_prices as
select * from read_csv('{snapshot}/index_prices.csv', header = true, columns = {
    'index_id': 'VARCHAR', 'trade_date': 'DATE', 'close': 'DOUBLE', 'open': 'DOUBLE', 'high': 'DOUBLE',
    'low': 'DOUBLE', 'volume': 'DOUBLE'})
where trade_date >= date '{start}' and index_id in (select index_id from reference.index_catalog);

create table raw.stock_prices as
select * from read_csv('{snapshot}/stock_prices.csv', header = true, columns = {
    'symbol': 'VARCHAR', 'trade_date': 'DATE', 'close': 'DOUBLE', 'currency': 'VARCHAR', 'open': 'DOUBLE',
    'high': 'DOUBLE', 'low': 'DOUBLE', 'volume': 'DOUBLE'})
where trade_date >= date '{start}' and symbol in (select symbol from reference.ai_basket_members);

-- As-of datasets keep their history: "as of d" for d >= start finds the same value the project's
-- carry-in restamps to the start date.
create table raw.fx_rates as
select * from read_csv('{snapshot}/fx_rates.csv', header = true, columns = {
    'currency': 'VARCHAR', 'trade_date': 'DATE', 'usd_per_unit': 'DOUBLE'});

create table raw.shares_outstanding as
select * from read_csv('{snapshot}/shares_outstanding.csv', header = true, columns = {
    'symbol': 'VARCHAR', 'as_of_date': 'DATE', 'shares_outstanding': 'DOUBLE'})
where symbol in (select symbol from reference.ai_basket_members);

create table raw.index_constituents as
select * from read_csv('{snapshot}/index_constituents.csv', header = true, columns = {
    'index_id': 'VARCHAR', 'symbol': 'VARCHAR', 'as_of_date': 'DATE', 'name': 'VARCHAR', 'weight': 'DOUBLE'});

create macro one_year_before(d) as
    case when month(d) = 2 and day(d) = 29 then make_date(year(d) - 1, 2, 28)
         else make_date(year(d) - 1, month(d), day(d)) end;

-- fct_index_returns: daily, MTD (last close before the month), YTD (before the year), 1Y (as of the
-- same calendar day a year earlier, Feb 29 -> Feb 28).
create table marts.fct_index_returns as
with days as (
    select p.index_id, p.trade_date, p.close, c.currency,
           lag(p.close) over (partition by p.index_id order by p.trade_date) as previous_close,
           date_trunc('month', p.trade_date)::date as month_start,
           date_trunc('year', p.trade_date)::date as year_start,
           one_year_before(p.trade_date) as year_back
    from raw.index_prices as p join reference.index_catalog as c using (index_id)
), m as (
    select days.*, a.close as month_anchor from days
    asof left join raw.index_prices as a on days.index_id = a.index_id and days.month_start > a.trade_date
), y as (
    select m.*, a.close as year_anchor from m
    asof left join raw.index_prices as a on m.index_id = a.index_id and m.year_start > a.trade_date
), o as (
    select y.*, a.close as year_back_close from y
    asof left join raw.index_prices as a on y.index_id = a.index_id and y.year_back >= a.trade_date
)
select index_id, trade_date, close, currency,
       close / previous_close - 1 as daily_return,
       close / month_anchor - 1 as mtd_return,
       close / year_anchor - 1 as ytd_return,
       close / year_back_close - 1 as trailing_1y_return
from o;

-- fct_relative_performance: the benchmark (NDX) measured on each other index's dates.
create table marts.fct_relative_performance as
with bench as (
    select index_id as benchmark_id, trade_date, close from raw.index_prices where index_id = 'NDX'
), days as (
    select r.index_id, b.benchmark_id, r.trade_date, r.mtd_return, r.ytd_return, r.trailing_1y_return,
           date_trunc('month', r.trade_date)::date as month_start,
           date_trunc('year', r.trade_date)::date as year_start,
           one_year_before(r.trade_date) as year_back
    from marts.fct_index_returns as r cross join (select distinct benchmark_id from bench) as b
    where r.index_id <> b.benchmark_id
), c as (
    select days.*, b.close as bench_close from days
    asof join bench as b on days.benchmark_id = b.benchmark_id and days.trade_date >= b.trade_date
), m as (
    select c.*, b.close as bench_month from c
    asof left join bench as b on c.benchmark_id = b.benchmark_id and c.month_start > b.trade_date
), y as (
    select m.*, b.close as bench_year from m
    asof left join bench as b on m.benchmark_id = b.benchmark_id and m.year_start > b.trade_date
), o as (
    select y.*, b.close as bench_year_back from y
    asof left join bench as b on y.benchmark_id = b.benchmark_id and y.year_back >= b.trade_date
), periods as (
    select index_id, benchmark_id, trade_date, 'MTD' as period, mtd_return as index_return,
           bench_close / bench_month - 1 as benchmark_return from o
    union all
    select index_id, benchmark_id, trade_date, 'YTD', ytd_return, bench_close / bench_year - 1 from o
    union all
    select index_id, benchmark_id, trade_date, '1Y', trailing_1y_return, bench_close / bench_year_back - 1 from o
)
select *, index_return - benchmark_return as excess_return,
       index_return - benchmark_return > 0 as outperformed
from periods;

-- fct_ai_basket_members_daily: every basket date (union of the members' trading dates) from each
-- member's first close on; close, FX and shares as of the date.
create table marts.fct_ai_basket_members_daily as
with prices as (
    select m.basket_id, p.symbol, p.trade_date, p.close, p.currency
    from raw.stock_prices as p join reference.ai_basket_members as m using (symbol)
), basket_dates as (
    select distinct basket_id, trade_date from prices
), first_closes as (
    select basket_id, symbol, min(trade_date) as first_close from prices group by all
), member_dates as (
    select f.basket_id, f.symbol, d.trade_date
    from first_closes as f join basket_dates as d
        on f.basket_id = d.basket_id and d.trade_date >= f.first_close
), closes as (
    select md.basket_id, md.symbol, md.trade_date, p.close as close_local, p.currency
    from member_dates as md
    asof join prices as p on md.basket_id = p.basket_id and md.symbol = p.symbol and md.trade_date >= p.trade_date
), fx_days as (
    -- the project's trick, so the baseline stays the engine's best: a rate per calendar day, hash-joined
    select d.currency, d.day, f.usd_per_unit
    from (select currency, unnest(generate_series(min(trade_date), (select max(trade_date) from basket_dates),
                                                  interval 1 day))::date as day
          from raw.fx_rates group by currency) as d
    asof join raw.fx_rates as f on d.currency = f.currency and d.day >= f.trade_date
), fx as (
    select closes.*, case when closes.currency = 'USD' then 1.0 else f.usd_per_unit end as usd_per_unit
    from closes
    left join fx_days as f on closes.currency = f.currency and closes.trade_date = f.day
), shares as (
    select fx.*, s.shares_outstanding from fx
    asof left join raw.shares_outstanding as s on fx.symbol = s.symbol and fx.trade_date >= s.as_of_date
)
select basket_id, symbol, trade_date, close_local, currency, usd_per_unit, shares_outstanding,
       close_local * shares_outstanding * usd_per_unit as market_cap_usd
from shares;

-- fct_ai_basket_market_cap: the members' sum per day; the year-ago value is the latest valued day on
-- or before the same calendar day a year earlier.
create table marts.fct_ai_basket_market_cap as
with totals as (
    select basket_id, trade_date, count(market_cap_usd) as members_priced, sum(market_cap_usd) as market_cap_usd,
           one_year_before(trade_date) as year_back
    from marts.fct_ai_basket_members_daily group by basket_id, trade_date
), valued as (
    select basket_id, trade_date, market_cap_usd from totals where market_cap_usd is not null
), members as (
    select basket_id, count(*) as members from reference.ai_basket_members group by basket_id
), back as (
    select t.*, v.market_cap_usd as market_cap_usd_1y_ago from totals as t
    asof left join valued as v on t.basket_id = v.basket_id and t.year_back >= v.trade_date
)
select back.basket_id, back.trade_date, members.members, back.members_priced, back.market_cap_usd,
       back.market_cap_usd_1y_ago, back.market_cap_usd - back.market_cap_usd_1y_ago as change_1y_usd,
       100 * (back.market_cap_usd / back.market_cap_usd_1y_ago - 1) as change_1y_pct
from back join members using (basket_id);

-- fct_ai_market_cap_ratio: on either basket's dates, each basket's latest value as of the date.
create table marts.fct_ai_market_cap_ratio as
with valued as (
    select basket_id, trade_date, market_cap_usd from marts.fct_ai_basket_market_cap where market_cap_usd is not null
), cn as (
    select trade_date, market_cap_usd from valued where basket_id = 'CN_AI'
), peer as (
    select trade_date, market_cap_usd from valued where basket_id = 'GLOBAL_AI_EX_CN'
), dates as (
    select distinct trade_date from marts.fct_ai_basket_market_cap
), c as (
    select dates.trade_date, cn.market_cap_usd as cn_market_cap_usd from dates
    asof join cn on dates.trade_date >= cn.trade_date
)
select c.trade_date, c.cn_market_cap_usd, peer.market_cap_usd as peer_market_cap_usd,
       c.cn_market_cap_usd / peer.market_cap_usd as cn_to_peer_ratio
from c asof join peer on c.trade_date >= peer.trade_date;

create table marts.dim_index as
select c.index_id, c.name, c.market, c.currency, c.calendar, c.role, c.index_id = 'NDX' as is_benchmark,
       c.akshare_symbol, c.akshare_em_symbol, c.yahoo_symbol,
       min(p.trade_date) as first_trade_date, max(p.trade_date) as last_trade_date, count(p.trade_date) as trading_days
from reference.index_catalog as c left join raw.index_prices as p using (index_id)
group by all;

create table marts.dim_security as
with symbols as (
    select symbol from reference.ai_basket_members
    union select symbol from raw.index_constituents
    union select distinct symbol from raw.stock_prices
), named as (
    select symbol, name from raw.index_constituents where name is not null
    qualify row_number() over (partition by symbol order by as_of_date desc, index_id) = 1
), latest_lists as (
    select index_id, symbol from raw.index_constituents
    qualify as_of_date = max(as_of_date) over (partition by index_id)
), listed_in as (
    select symbol, string_agg(index_id, ',' order by index_id) as constituent_index_ids from latest_lists group by symbol
), priced as (
    select symbol, min(trade_date) as first_trade_date, max(trade_date) as last_trade_date,
           arg_max(currency, trade_date) as currency
    from raw.stock_prices group by symbol
)
select s.symbol, coalesce(m.name, n.name) as name, m.basket_id, m.basket_id is not null as is_ai_basket_member,
       m.subsector, coalesce(m.currency, p.currency) as currency, m.calendar, m.listed_on,
       l.constituent_index_ids, p.first_trade_date, p.last_trade_date
from symbols as s
left join reference.ai_basket_members as m using (symbol)
left join named as n using (symbol)
left join listed_in as l using (symbol)
left join priced as p using (symbol);

-- fct_security_returns: each member's price rows, returns over 1, 3, 6 months, the year to date and one
-- year, in its currency and in USD (each close converted as of its own date). An anchor is the latest
-- close on or before the same calendar day N months back (clamped to the month's end), or the last
-- close of the previous year: a window frame ending that far back, one sort for all five.
create table marts.fct_security_returns as
with prices as (
    select p.symbol, m.basket_id, p.trade_date, p.currency, p.close
    from raw.stock_prices as p join reference.ai_basket_members as m using (symbol)
), converted as (
    select prices.*, case when prices.currency = 'USD' then 1.0 else f.usd_per_unit end as usd_per_unit
    from prices asof left join raw.fx_rates as f on prices.currency = f.currency and prices.trade_date >= f.trade_date
), anchored as (
    select *,
           last_value(struct_pack(c := close, u := close * usd_per_unit)) over (
               partition by symbol order by trade_date range between unbounded preceding and interval 1 month preceding) as a1m,
           last_value(struct_pack(c := close, u := close * usd_per_unit)) over (
               partition by symbol order by trade_date range between unbounded preceding and interval 3 month preceding) as a3m,
           last_value(struct_pack(c := close, u := close * usd_per_unit)) over (
               partition by symbol order by trade_date range between unbounded preceding and interval 6 month preceding) as a6m,
           last_value(struct_pack(c := close, u := close * usd_per_unit)) over (
               partition by symbol order by trade_date range between unbounded preceding
                   and cast(trade_date - (date_trunc('year', trade_date)::date - 1) as integer) preceding) as aytd,
           last_value(struct_pack(c := close, u := close * usd_per_unit)) over (
               partition by symbol order by trade_date range between unbounded preceding and interval 12 month preceding) as a1y
    from converted
)
select symbol, basket_id, trade_date, currency, close as close_local, usd_per_unit, close * usd_per_unit as close_usd,
       close / a1m.c - 1 as return_1m, close / a3m.c - 1 as return_3m, close / a6m.c - 1 as return_6m,
       close / aytd.c - 1 as return_ytd, close / a1y.c - 1 as return_1y,
       close * usd_per_unit / a1m.u - 1 as return_1m_usd, close * usd_per_unit / a3m.u - 1 as return_3m_usd,
       close * usd_per_unit / a6m.u - 1 as return_6m_usd, close * usd_per_unit / aytd.u - 1 as return_ytd_usd,
       close * usd_per_unit / a1y.u - 1 as return_1y_usd
from anchored;

-- fct_ai_basket_member_contribution: each member's USD change between the basket's base row of the
-- period (its latest valued date on or before 1, 3, 6 or 12 months back, or before January 1) and the
-- date; a missing side counts as 0, so the members' changes add up to the basket's.
create table marts.fct_ai_basket_member_contribution as
with basket as (
    select basket_id, trade_date, market_cap_usd from marts.fct_ai_basket_market_cap where market_cap_usd is not null
), targets as (
    select b.*, p.period,
           case when p.months is null then date_trunc('year', b.trade_date)::date - 1
                else (b.trade_date - to_months(p.months))::date end as base_target
    from basket as b, (values ('1M', 1), ('3M', 3), ('6M', 6), ('YTD', null), ('1Y', 12)) as p(period, months)
), based as (
    select row_number() over () as slot, t.basket_id, t.period, t.trade_date, base.trade_date as base_date,
           base.market_cap_usd as basket_base
    from targets as t asof join basket as base on t.basket_id = base.basket_id and t.base_target >= base.trade_date
), members as (
    select based.slot, now.symbol, now.market_cap_usd, before.market_cap_usd as market_cap_usd_base,
           coalesce(now.market_cap_usd, 0) - coalesce(before.market_cap_usd, 0) as change_usd
    from based
    join marts.fct_ai_basket_members_daily as now on based.basket_id = now.basket_id and based.trade_date = now.trade_date
    left join marts.fct_ai_basket_members_daily as before
        on now.basket_id = before.basket_id and now.symbol = before.symbol and based.base_date = before.trade_date
    where now.market_cap_usd is not null or before.market_cap_usd is not null
), totals as (
    -- grouped and joined back: 133 s at 95M rows where a window sum over the slot took 151 s
    select slot, sum(change_usd) as basket_change_usd from members group by slot
), t as (
    select based.*, members.symbol, members.market_cap_usd, members.market_cap_usd_base, members.change_usd,
           totals.basket_change_usd
    from members join totals using (slot) join based using (slot)
)
select t.basket_id, t.symbol, m.subsector, t.period, t.trade_date, t.base_date, t.market_cap_usd,
       t.market_cap_usd_base, t.change_usd, t.basket_change_usd,
       t.change_usd / nullif(t.basket_change_usd, 0) as share_of_change,
       100 * t.change_usd / t.basket_base as contribution_pct_points,
       rank() over (partition by t.slot order by case when t.basket_change_usd < 0 then -t.change_usd
                                                      else t.change_usd end desc)::integer as contribution_rank
from t left join reference.ai_basket_members as m on t.basket_id = m.basket_id and t.symbol = m.symbol;

-- fct_ai_basket_subsector_contribution: the member contributions summed by subsector.
create table marts.fct_ai_basket_subsector_contribution as
with by_subsector as (
    select basket_id, coalesce(subsector, 'unclassified') as subsector, period, trade_date, base_date,
           count(*) as members, sum(market_cap_usd) as market_cap_usd, sum(market_cap_usd_base) as market_cap_usd_base,
           sum(change_usd) as change_usd, any_value(basket_change_usd) as basket_change_usd,
           sum(contribution_pct_points) as contribution_pct_points
    from marts.fct_ai_basket_member_contribution group by all
)
select *, change_usd / nullif(basket_change_usd, 0) as share_of_change,
       rank() over (partition by basket_id, period, trade_date
                    order by case when basket_change_usd < 0 then -change_usd else change_usd end desc)::integer
           as contribution_rank
from by_subsector;
