"""The headline report: the product's questions answered for one as-of date.

Written three ways from one SQL statement over the marts: the table `marts.rpt_headline`, Markdown with
the charts on the asset (what the Dagster UI shows), and `headline.md` + PNG charts in the reports
folder (what a reader opens or mails). Every value is as of the date: the latest row on or before it.
"""
# No `from __future__ import annotations`: Dagster reads the Config annotation at decoration time.

import base64
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    Config,
    ConfigurableResource,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from assets.publication import PUBLISHED_KEY, PublishedWarehouse, publish_unless_a_later_step_does
from assets.raw import WAREHOUSE_POOL
from orchestration.calendars import WEEKDAYS, session_on
from orchestration.reference import headline_baskets
from orchestration.resources.warehouse import Warehouse, WarehouseSession
from orchestration.settings import PROJECT_ROOT, Settings

REPORT_KEY = AssetKey(["marts", "rpt_headline"])
REPORT_TABLE = "marts.rpt_headline"
REPORT_GROUP = "reports"
MARTS_READ = (
    "fct_index_returns",
    "fct_relative_performance",
    "fct_ai_basket_members_daily",
    "fct_ai_basket_market_cap",
    "fct_ai_market_cap_ratio",
    "dim_index",
    "dim_security",
)
# The order the news puts them in; indices of these roles not listed here follow alphabetically.
HEADLINE_INDEX_ORDER = ["STAR50", "HSTECH", "NDX"]
HEADLINE_ROLES = ["china_tech", "benchmark"]
# The baskets seed's headline pair (CN_AI against GLOBAL_AI_EX_CN), as fct_ai_market_cap_ratio reports it.
CN_BASKET, PEER_BASKET = headline_baskets()
SYNTHETIC = "synthetic sample"
# A side may trail by this many sessions of its own exchange(s) and still be compared: a market that
# has not closed yet when the other side's run loads (1), a late or retried load (2, 3). More means the
# source stopped, and the line says its dates are mismatched.
MAX_SESSIONS_APART = 3

REPORT_FILE = "headline.md"
CHART_FILES = {
    "indices_ytd": "indices_ytd.png",
    "indices_1y": "indices_1y.png",
    "cn_ai_market_cap": "cn_ai_market_cap_by_subsector.png",
    "cn_to_peer_ratio": "cn_to_peer_ratio.png",
}
# Files are for reading and the README; the copies inside the event log stay small.
FILE_DPI, METADATA_DPI = 120, 64


def default_reports_dir(database: str | Path) -> Path:
    """`reports/` in the project for the project's warehouse; beside the warehouse file for any other
    (a test's, a user's own), so that one never overwrites the other's report."""
    database = Path(database)
    if database.parent == PROJECT_ROOT / "warehouse":
        return PROJECT_ROOT / "reports"
    return database.parent / "reports"


class ReportOutput(ConfigurableResource):
    """Where the report files go, and whether the warehouse holds the bundled synthetic sample."""

    directory: str = Field(
        default=str(PROJECT_ROOT / "reports"), description="Folder for headline.md and the PNG charts."
    )
    synthetic_sample: bool = Field(
        default=False,
        description="Label everything 'synthetic sample' (also done whenever raw rows come from the sample).",
    )


class HeadlineConfig(Config):
    as_of: str | None = Field(
        default=None,
        description="ISO date (YYYY-MM-DD) the report is as of; default: the latest date in the warehouse.",
    )


def one_year_back(d: date) -> date:
    # The marts' rule: the same calendar day a year earlier, Feb 29 -> Feb 28.
    return d.replace(year=d.year - 1, day=28) if (d.month, d.day) == (2, 29) else d.replace(year=d.year - 1)


# One row per fact; `line` is the reading order. Units follow the marts: returns and the ratio are
# fractions, change_1y_pct is in percent, money in USD.
#
# Each line names the date of each side it rests on: the subject's own (`subject_as_of`) and, for a
# comparison, the other side's (`compared_as_of`: the benchmark's close, the peer basket's value). A
# side that trails the report date or the other side by more than MAX_SESSIONS_APART sessions of its
# own exchange(s) marks the line `dates_mismatched`, and a comparison between such sides gives no
# verdict. `sessions_missed(side, after, upto)` counts the side's sessions in (after, upto] from the
# temp table `report_side_sessions` (see side_sessions()).
HEADLINE_SQL = """
create or replace table marts.rpt_headline as
with params as (
    select $as_of::date as as_of_date, $data_label::varchar as data_label, $generated_at::timestamp as generated_at,
           $max_apart::integer as max_apart
), headline_indices as (
    select index_id, name, currency,
           coalesce(list_position($index_order::varchar[], index_id), 1000) as index_order
    from marts.dim_index
    where role in (select unnest($roles::varchar[]))
), index_latest as (
    select r.index_id, r.trade_date, r.mtd_return, r.ytd_return, r.trailing_1y_return
    from marts.fct_index_returns as r, params as p
    where r.index_id in (select index_id from headline_indices) and r.trade_date <= p.as_of_date
    qualify row_number() over (partition by r.index_id order by r.trade_date desc) = 1
), index_periods as (
    select index_id, trade_date, 'MTD' as period, 1 as period_order, mtd_return as index_return from index_latest
    union all
    select index_id, trade_date, 'YTD', 2, ytd_return from index_latest
    union all
    select index_id, trade_date, '1Y', 3, trailing_1y_return from index_latest
), benchmarks as (
    select index_id as benchmark_id, currency as benchmark_currency from marts.dim_index where is_benchmark
), relative as (
    select rp.index_id, rp.benchmark_id, rp.period, rp.benchmark_return, rp.excess_return, rp.outperformed,
           b.benchmark_currency,
           -- The benchmark close the mart compared with: its latest on or before the index's date.
           (select max(c.trade_date) from marts.fct_index_returns as c
            where c.index_id = rp.benchmark_id and c.trade_date <= rp.trade_date) as benchmark_date
    from marts.fct_relative_performance as rp
    join index_latest as l on l.index_id = rp.index_id and l.trade_date = rp.trade_date
    join benchmarks as b using (benchmark_id)
), index_rows as (
    select 1 as topic_order, h.index_order, ip.period_order as measure_order, 'index_return' as topic,
           ip.index_id as subject, h.name as subject_name, ip.period, 'return' as measure, ip.index_return as value,
           'fraction' as unit, ip.trade_date as value_date, r.benchmark_id, r.benchmark_return as benchmark_value,
           r.excess_return, r.outperformed,
           case when ip.index_return is not null
                then rank() over (partition by ip.period order by ip.index_return desc nulls last) end as rank,
           h.currency, ip.index_id as subject_side, ip.trade_date as subject_as_of,
           r.benchmark_id as compared_with, r.benchmark_date as compared_as_of,
           h.name || ' ' || coalesce(printf('%+.1f%%', 100 * ip.index_return), 'n/a') || ' ' || ip.period
               || coalesce(' in ' || h.currency, '') || ' to ' || strftime(ip.trade_date, '%Y-%m-%d') as claim,
           ' vs ' || r.benchmark_id || ' ' || coalesce(printf('%+.1f%%', 100 * r.benchmark_return), 'n/a')
               || coalesce(' in ' || r.benchmark_currency, '')
               || case when r.benchmark_date <> ip.trade_date then ' to ' || strftime(r.benchmark_date, '%Y-%m-%d')
                       else '' end as versus,
           case when r.outperformed then ': ahead by ' when not r.outperformed then ': behind by ' else '' end
               || coalesce(printf('%.1f pts', abs(100 * r.excess_return)), '') as verdict
    from index_periods as ip
    join headline_indices as h using (index_id)
    left join relative as r on r.index_id = ip.index_id and r.period = ip.period
), basket_latest as (
    select b.* from marts.fct_ai_basket_market_cap as b, params as p
    where b.trade_date <= p.as_of_date
    qualify row_number() over (partition by b.basket_id order by b.trade_date desc) = 1
), basket_rows as (
    select 2 as topic_order, case basket_id when $cn then 1 else 2 end as index_order, m.measure_order,
           'ai_market_cap' as topic, b.basket_id as subject, b.basket_id as subject_name, null as period,
           m.measure, m.value, m.unit, b.trade_date as value_date
    from basket_latest as b,
         lateral (values
            (1, 'market_cap_usd', b.market_cap_usd, 'usd'),
            (2, 'market_cap_usd_1y_ago', b.market_cap_usd_1y_ago, 'usd'),
            (3, 'change_1y_usd', b.change_1y_usd, 'usd'),
            (4, 'change_1y_pct', b.change_1y_pct, 'percent'),
            (5, 'members_priced', b.members_priced::double, 'count'),
            (6, 'members', b.members::double, 'count')
         ) as m(measure_order, measure, value, unit)
    where b.basket_id = $cn or m.measure = 'market_cap_usd'
), basket_valued as (
    select basket_id, trade_date from marts.fct_ai_basket_market_cap where market_cap_usd is not null
), ratio_rows as (
    select 3 as topic_order, 1 as index_order, 1 as measure_order, 'ai_market_cap_ratio' as topic,
           $cn || '/' || $peer as subject, $cn || ' / ' || $peer as subject_name, null as period,
           'cn_to_peer_ratio' as measure, r.cn_to_peer_ratio as value, 'fraction' as unit, r.trade_date as value_date,
           -- The mart carries each basket's latest value forward: these are the dates of the two values.
           (select max(v.trade_date) from basket_valued as v
            where v.basket_id = $cn and v.trade_date <= r.trade_date) as cn_date,
           (select max(v.trade_date) from basket_valued as v
            where v.basket_id = $peer and v.trade_date <= r.trade_date) as peer_date
    from marts.fct_ai_market_cap_ratio as r, params as p
    -- Not `qualify row_number() over (order by ...) = 1`: DuckDB 1.5.5 rewrites that into an
    -- aggregate which returns one all-NULL row when nothing qualifies.
    where r.trade_date = (select max(trade_date) from marts.fct_ai_market_cap_ratio where trade_date <= p.as_of_date)
), facts as (
    select topic_order, index_order, measure_order, topic, subject, subject_name, period, measure, value, unit,
           value_date, benchmark_id, benchmark_value, excess_return, outperformed, rank, currency, subject_side,
           subject_as_of, compared_with, compared_as_of, claim, versus, verdict
    from index_rows
    union all
    select topic_order, index_order, measure_order, topic, subject, subject_name, period, measure, value, unit,
           value_date, null, null, null, null, null, case when unit in ('usd', 'percent') then 'USD' end,
           subject, value_date, null, null,
           subject || ' ' ||
           case measure when 'market_cap_usd' then 'market cap on '
                        when 'market_cap_usd_1y_ago' then 'market cap one year before '
                        when 'change_1y_usd' then 'change over the year to '
                        when 'change_1y_pct' then 'change over the year to '
                        when 'members_priced' then 'members priced on '
                        else 'members configured on ' end
           || strftime(value_date, '%Y-%m-%d') || ': ' ||
           coalesce(case when measure = 'change_1y_usd'
                              then (case when value < 0 then '-' else '+' end) || printf('USD %,.1f bn', abs(value) / 1e9)
                         when unit = 'usd' then printf('USD %,.1f bn', value / 1e9)
                         when unit = 'percent' then printf('%+.1f%% in USD', value)
                         else printf('%d', value::bigint) end, 'n/a'),
           null, null
    from basket_rows
    union all
    select topic_order, index_order, measure_order, topic, subject, subject_name, period, measure, value, unit,
           value_date, null, null, null, null, null, 'USD', $cn, cn_date, $peer, peer_date,
           $cn || ' market cap as a share of ' || $peer || ' on ' || strftime(value_date, '%Y-%m-%d') || ': '
           || coalesce(printf('%.2f%%', 100 * value), 'n/a')
           || case when cn_date <> value_date or peer_date <> value_date
                   then ' (' || $cn || ' value of ' || strftime(cn_date, '%Y-%m-%d') || ', ' || $peer || ' of '
                        || strftime(peer_date, '%Y-%m-%d') || ')' else '' end,
           null, null
    from ratio_rows
), dated as (
    select f.*,
           sessions_missed(f.subject_side, f.subject_as_of, p.as_of_date) as subject_behind,
           case when f.compared_with is not null
                then sessions_missed(f.compared_with, f.compared_as_of, p.as_of_date) end as compared_behind,
           -- The older side's own sessions between the two sides' dates.
           case when f.compared_as_of < f.subject_as_of
                     then sessions_missed(f.compared_with, f.compared_as_of, f.subject_as_of)
                when f.compared_as_of > f.subject_as_of
                     then sessions_missed(f.subject_side, f.subject_as_of, f.compared_as_of)
                when f.compared_with is not null then 0 end as sides_apart
    from facts as f, params as p
), flagged as (
    select d.*, greatest(d.subject_behind, coalesce(d.compared_behind, 0)) as sessions_behind,
           -- Both sides are on or before the report date, so sides_apart > max_apart implies this too.
           greatest(d.subject_behind, coalesce(d.compared_behind, 0)) > p.max_apart as dates_mismatched,
           nullif(concat_ws('; ',
               case when d.subject_behind > p.max_apart
                    then d.subject_side || ' data ends ' || strftime(d.subject_as_of, '%Y-%m-%d') || ', '
                         || d.subject_behind || ' sessions before ' || strftime(p.as_of_date, '%Y-%m-%d') end,
               case when d.compared_behind > p.max_apart
                    then d.compared_with || ' data ends ' || strftime(d.compared_as_of, '%Y-%m-%d') || ', '
                         || d.compared_behind || ' sessions before ' || strftime(p.as_of_date, '%Y-%m-%d') end
           ), '') as note
    from dated as d, params as p
)
select p.as_of_date,
       row_number() over (order by f.topic_order, f.index_order, f.subject, f.measure_order)::integer as line,
       f.topic, f.subject, f.subject_name, f.period, f.measure, f.value, f.unit, f.value_date,
       f.benchmark_id, f.benchmark_value, f.excess_return, f.outperformed, f.rank::integer as rank,
       f.claim || coalesce(f.versus, '')
           || case when f.versus is null then ''
                   when f.sides_apart > p.max_apart then ': not comparable'
                   else coalesce(f.verdict, '') end
           || case when f.dates_mismatched then ' [dates mismatched: ' || f.note || ']' else '' end as headline,
       p.data_label, p.generated_at,
       f.currency, f.subject_as_of, f.compared_with, f.compared_as_of, f.sides_apart::integer as sessions_apart,
       f.sessions_behind::integer as sessions_behind, f.dates_mismatched, f.note
from flagged as f, params as p
order by line
"""

SESSIONS_MACRO = """
create or replace temp macro sessions_missed(side_id, after_date, upto_date) as (
    select count(*) from report_side_sessions
    where side = side_id and session_date > after_date and session_date <= upto_date
)
"""


def latest_date(wh: WarehouseSession) -> date | None:
    return wh.execute(
        "select max(d) from (select max(trade_date) as d from marts.fct_index_returns"
        " union all select max(trade_date) from marts.fct_ai_basket_market_cap"
        " union all select max(trade_date) from marts.fct_ai_market_cap_ratio)"
    ).fetchone()[0]


def data_label(wh: WarehouseSession, synthetic_sample: bool) -> str:
    """'synthetic sample' when any price comes from the bundled sample, else the sources by name."""
    sources = [
        r[0]
        for r in wh.execute(
            "select distinct source from (select source from raw.index_prices union all"
            " select source from raw.stock_prices) where source is not null order by 1"
        ).fetchall()
    ]
    if synthetic_sample or any(s.startswith("sample:") for s in sources):
        return SYNTHETIC
    return ", ".join(sources) or "no data"


def side_sessions(wh: WarehouseSession, as_of: date) -> pd.DataFrame:
    """(side, session_date): the sessions of each index's exchange and of the union of each basket's
    members' exchanges, from the day after the oldest latest date any side has up to `as_of`.

    A side that trails another only over its own exchange's holidays (Golden Week, a US holiday) has
    missed no session and is in step; one that missed sessions its exchange held has stopped.
    """
    sides = wh.execute(
        """
        select index_id as side, coalesce(calendar, ?) as calendar from marts.dim_index
        union
        select basket_id, coalesce(calendar, ?) from marts.dim_security where basket_id is not null
        """,
        [WEEKDAYS, WEEKDAYS],
    ).fetchall()
    oldest = wh.execute(
        """
        select min(d) from (
            select max(trade_date) as d from marts.fct_index_returns where trade_date <= ? group by index_id
            union all
            select max(trade_date) from marts.fct_ai_basket_market_cap
            where trade_date <= ? and market_cap_usd is not null group by basket_id)
        """,
        [as_of, as_of],
    ).fetchone()[0]
    rows: set[tuple[str, date]] = set()
    if oldest is not None:
        days = [oldest + timedelta(days=n) for n in range(1, (as_of - oldest).days + 1)]
        held = {
            name: [d for d in days if session_on(name, d) is not None] for name in {calendar for _, calendar in sides}
        }
        rows = {(side, d) for side, calendar in sides for d in held[calendar]}
    return pd.DataFrame(sorted(rows), columns=["side", "session_date"])


def build_headline_table(wh: WarehouseSession, as_of: date, label: str, generated_at: datetime) -> pd.DataFrame:
    sessions = side_sessions(wh, as_of)
    wh.execute("create or replace temp table report_side_sessions (side varchar, session_date date)")
    if len(sessions):
        wh.register("side_sessions_frame", sessions)
        wh.execute("insert into report_side_sessions select side, session_date from side_sessions_frame")
        wh.unregister("side_sessions_frame")
    wh.execute(SESSIONS_MACRO)
    wh.execute(
        HEADLINE_SQL,
        {
            "as_of": as_of,
            "data_label": label,
            "generated_at": generated_at,
            "max_apart": MAX_SESSIONS_APART,
            "index_order": HEADLINE_INDEX_ORDER,
            "roles": HEADLINE_ROLES,
            "cn": CN_BASKET,
            "peer": PEER_BASKET,
        },
    )
    return wh.execute(f"select * from {REPORT_TABLE} order by line").df()


@dataclass(frozen=True)
class ChartData:
    indices_ytd: pd.DataFrame  # trade_date, index_id, name, rebased
    ytd_base: date
    indices_1y: pd.DataFrame
    one_year_base: date
    cap_by_subsector: pd.DataFrame  # trade_date x subsector, USD
    ratio: pd.DataFrame  # trade_date, cn_to_peer_ratio


def rebase(closes: pd.DataFrame, base_before: date | None, base_on_or_before: date | None) -> pd.DataFrame:
    """Each index's closes divided by its base close, times 100, from the base date on.

    The base is the close the marts use for the period (the last one before Jan 1 for YTD, the one as
    of a year back for 1Y), so the last point equals 100 * (1 + the mart's return). An index without
    such a close starts at 100 on its first date in the window, and says so in its label.
    """
    frames = []
    for index_id, series in closes.groupby("index_id", sort=False):
        series = series.sort_values("trade_date")
        if base_before is not None:
            before = series[series.trade_date < base_before]
            window_start = base_before
        else:
            before = series[series.trade_date <= base_on_or_before]
            window_start = base_on_or_before
        if len(before):
            base_date = before.trade_date.iloc[-1]
            label = series.name.iloc[0]
        else:
            inside = series[series.trade_date >= window_start]
            if inside.empty:
                continue
            base_date = inside.trade_date.iloc[0]
            label = f"{series.name.iloc[0]} (from {base_date:%Y-%m-%d})"
        part = series[series.trade_date >= base_date].copy()
        part["rebased"] = 100 * part.close / part.close.iloc[0]
        part["label"] = label
        frames.append(part)
    columns = ["index_id", "name", "label", "trade_date", "close", "rebased"]
    return pd.concat(frames)[columns] if frames else pd.DataFrame(columns=columns)


def load_chart_data(wh: WarehouseSession, as_of: date) -> ChartData:
    closes = wh.execute(
        """
        select r.index_id, d.name, r.trade_date, r.close,
               coalesce(list_position(?::varchar[], r.index_id), 1000) as index_order
        from marts.fct_index_returns as r join marts.dim_index as d using (index_id)
        where d.role in (select unnest(?::varchar[])) and r.trade_date <= ?
        order by index_order, r.index_id, r.trade_date
        """,
        [HEADLINE_INDEX_ORDER, HEADLINE_ROLES, as_of],
    ).df()
    closes["trade_date"] = pd.to_datetime(closes.trade_date).dt.date
    ytd_base, year_base = date(as_of.year, 1, 1), one_year_back(as_of)
    by_subsector = wh.execute(
        """
        select m.trade_date, coalesce(s.subsector, 'unclassified') as subsector, sum(m.market_cap_usd) as usd
        from marts.fct_ai_basket_members_daily as m
        left join marts.dim_security as s using (symbol)
        where m.basket_id = ? and m.trade_date <= ? and m.market_cap_usd is not null
        group by all order by 1, 2
        """,
        [CN_BASKET, as_of],
    ).df()
    cap = by_subsector.pivot(index="trade_date", columns="subsector", values="usd").fillna(0.0)
    if len(cap.columns):
        # Largest subsector at the bottom of the stack, where its changes read most easily.
        cap = cap[cap.iloc[-1].sort_values(ascending=False).index]
    ratio = wh.execute(
        "select trade_date, cn_to_peer_ratio from marts.fct_ai_market_cap_ratio where trade_date <= ? order by 1",
        [as_of],
    ).df()
    return ChartData(
        indices_ytd=rebase(closes, base_before=ytd_base, base_on_or_before=None),
        ytd_base=ytd_base,
        indices_1y=rebase(closes, base_before=None, base_on_or_before=year_base),
        one_year_base=year_base,
        cap_by_subsector=cap,
        ratio=ratio,
    )


def _titled(title: str, label: str) -> str:
    return f"{title} ({SYNTHETIC})" if label == SYNTHETIC else title


def render_charts(data: ChartData, as_of: date, label: str) -> dict[str, Any]:
    """The four charts as matplotlib Figures; no pyplot, so no GUI backend and no global state."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    def new(title: str) -> tuple[Any, Any]:
        fig = Figure(figsize=(9, 4.6), layout="constrained")
        ax = fig.add_subplot()
        ax.set_title(_titled(title, label), fontsize=11, loc="left")
        ax.grid(True, alpha=0.3)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        return fig, ax

    def no_data(ax: Any) -> None:
        ax.text(0.5, 0.5, "no data as of this date", ha="center", va="center", transform=ax.transAxes, color="0.4")

    def lines(frame: pd.DataFrame, title: str) -> Any:
        fig, ax = new(title)
        if frame.empty:
            no_data(ax)
            return fig
        last = frame.trade_date.max()
        for label_text, series in frame.groupby("label", sort=False):
            # The end value goes in the legend: end-of-line labels collide when indices end close. So
            # does the end date of a line that stops before the others, which is easy to miss on a plot.
            end = series.trade_date.iloc[-1]
            ended = f" on {end:%Y-%m-%d}" if end != last else ""
            ax.plot(pd.to_datetime(series.trade_date), series.rebased, linewidth=1.6,
                    label=f"{label_text}: {series.rebased.iloc[-1]:.1f}{ended}")
        ax.axhline(100, color="0.5", linewidth=0.8)
        ax.set_ylabel("rebased to 100, local currency")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
        return fig

    charts = {
        "indices_ytd": lines(
            data.indices_ytd,
            f"Year to date, in local currency: indices rebased to 100 at the last close of"
            f" {data.ytd_base.year - 1}, to {as_of}",
        ),
        "indices_1y": lines(
            data.indices_1y,
            f"One year, in local currency: indices rebased to 100 as of {data.one_year_base}, to {as_of}",
        ),
    }

    fig, ax = new(f"{CN_BASKET} basket market cap by subsector, USD bn, to {as_of}")
    cap = data.cap_by_subsector
    if cap.empty:
        no_data(ax)
    else:
        dates = pd.to_datetime(cap.index)
        ax.stackplot(dates, *(cap[c].to_numpy() / 1e9 for c in cap.columns), labels=list(cap.columns), alpha=0.85)
        ax.legend(loc="upper left", fontsize=8, frameon=False, reverse=True)
        ax.set_ylabel("USD bn")
        year_back = pd.Timestamp(one_year_back(as_of))
        if dates[0] <= year_back:
            ax.axvline(year_back, color="0.3", linestyle="--", linewidth=0.8)
            ax.annotate("one year earlier", (year_back, ax.get_ylim()[1]), xytext=(3, -12),
                        textcoords="offset points", fontsize=8, color="0.3")
    charts["cn_ai_market_cap"] = fig

    fig, ax = new(f"{CN_BASKET} market cap as % of {PEER_BASKET}, to {as_of}")
    if data.ratio.empty:
        no_data(ax)
    else:
        ax.plot(pd.to_datetime(data.ratio.trade_date), 100 * data.ratio.cn_to_peer_ratio, linewidth=1.6)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.1f}%"))
        ax.set_ylabel("% of the peer basket")
    charts["cn_to_peer_ratio"] = fig
    return charts


def png_bytes(fig: Any, dpi: int, palette: bool = False) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    if not palette:
        return buffer.getvalue()
    # Every run stores the embedded charts in the event log: a 64-colour palette keeps them ~3x smaller.
    from PIL import Image

    buffer.seek(0)
    small = io.BytesIO()
    Image.open(buffer).convert("RGB").quantize(colors=64).save(small, format="PNG", optimize=True)
    return small.getvalue()


def _pct(value: Any, scale: float = 100.0, signed: bool = True) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return f"{scale * value:+.1f}%" if signed else f"{scale * value:.2f}%"


def _usd_bn(value: Any, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    sign = ("+" if value >= 0 else "-") if signed else ""
    return f"{sign}USD {abs(value) / 1e9:,.1f} bn"


def _mismatched(rows: pd.DataFrame) -> bool:
    return bool(rows.dates_mismatched.fillna(False).any())


def report_markdown(table: pd.DataFrame, as_of: date, label: str, image: Callable[[str], str]) -> str:
    """The report as Markdown; `image(chart)` gives each chart's URL (a file name, or a data: URI)."""
    title = _titled(f"China tech rally: the headline as of {as_of}", label)
    out = [f"# {title}", ""]
    if label == SYNTHETIC:
        out += ["> Built from the bundled **synthetic sample** (`sample_data/`): realistic in shape, not market data.", ""]
    else:
        out += [f"Data: {label}.", ""]
    flagged = table[table.dates_mismatched.fillna(False).astype(bool)]
    if len(flagged):
        notes = list(dict.fromkeys(flagged.note.dropna()))
        out += [
            (f"> **Dates mismatched**: {len(flagged)} of {len(table)} figures rest on data more than"
             f" {MAX_SESSIONS_APART} trading sessions older than the report date or than what they are compared"
             " with; each says so below, and a comparison of sides that far apart gives no verdict."),
            *(f"> - {n}" for n in notes),
            "",
        ]

    idx = table[table.topic == "index_return"]
    if len(idx):
        out += [
            "## Index returns",
            "",
            "Price returns in each index's own (local) currency, not converted to USD.",
            "",
            "| index | currency | as of | MTD | YTD | 1Y |",
            "|---|---|---|---|---|---|",
        ]
        for subject, rows in idx.groupby("subject", sort=False):
            by_period = dict(zip(rows.period, rows.value, strict=True))
            stale = " (dates mismatched)" if _mismatched(rows) else ""
            out.append(
                f"| {rows.subject_name.iloc[0]} | {rows.currency.iloc[0] or 'n/a'}"
                f" | {rows.value_date.iloc[0]:%Y-%m-%d}{stale} | {_pct(by_period.get('MTD'))}"
                f" | {_pct(by_period.get('YTD'))} | {_pct(by_period.get('1Y'))} |"
            )
        out += ["", "**Who outperformed whom** (each in its local currency)", ""]
        for period, rows in idx.groupby("period", sort=False):
            ranked = rows[rows.value.notna()].sort_values("rank")
            if len(ranked):
                mixed = ranked.value_date.nunique() > 1 and (ranked.sessions_behind > MAX_SESSIONS_APART).any()
                stale = " (dates mismatched: the ranking mixes dates)" if mixed else ""
                out.append(
                    f"- {period}: "
                    + " > ".join(f"{r.subject_name} {_pct(r.value)} to {r.value_date:%Y-%m-%d}" for r in ranked.itertuples())
                    + stale
                )
            else:
                out.append(f"- {period}: n/a (no reference close in the data)")
        versus = idx[idx.benchmark_id.notna()]
        if len(versus):
            out += ["", ("| index | period | index return | as of | benchmark | benchmark return | as of"
                         " | excess (pts) | outperformed |"), "|---|---|---|---|---|---|---|---|---|"]
            for r in versus.itertuples():
                excess = "n/a" if pd.isna(r.excess_return) else f"{100 * r.excess_return:+.1f}"
                if not pd.isna(r.sessions_apart) and r.sessions_apart > MAX_SESSIONS_APART:
                    won = "not comparable (dates mismatched)"
                else:
                    won = "n/a" if pd.isna(r.outperformed) else ("yes" if r.outperformed else "no")
                out.append(f"| {r.subject_name} | {r.period} | {_pct(r.value)} | {r.subject_as_of:%Y-%m-%d}"
                           f" | {r.benchmark_id} | {_pct(r.benchmark_value)} | {r.compared_as_of:%Y-%m-%d}"
                           f" | {excess} | {won} |")
        out.append("")

    cap = table[(table.topic == "ai_market_cap") & (table.subject == CN_BASKET)]
    if len(cap):
        m = dict(zip(cap.measure, cap.value, strict=True))
        when = cap.value_date.iloc[0]
        members = "n/a" if pd.isna(m.get("members_priced")) else f"{m['members_priced']:.0f} of {m['members']:.0f}"
        change_pct = "n/a" if pd.isna(m.get("change_1y_pct")) else f"{m['change_1y_pct']:+.1f}%"
        stale = f" (dates mismatched: {cap.note.dropna().iloc[0]})" if _mismatched(cap) else ""
        out += [
            f"## AI market cap: {CN_BASKET}",
            "",
            f"- Market cap on {when:%Y-%m-%d}: **{_usd_bn(m.get('market_cap_usd'))}** ({members} members priced){stale}",
            f"- One year earlier (as of {one_year_back(when.date())}): {_usd_bn(m.get('market_cap_usd_1y_ago'))}",
            f"- Change over the year in USD: **{_usd_bn(m.get('change_1y_usd'), signed=True)} ({change_pct})**",
        ]
    peer = table[(table.topic == "ai_market_cap") & (table.subject == PEER_BASKET)]
    ratio = table[table.topic == "ai_market_cap_ratio"]
    if len(ratio):
        r = ratio.iloc[0]
        peer_text = f" ({PEER_BASKET}: {_usd_bn(peer.value.iloc[0])})" if len(peer) else ""
        sides = (
            f" ({CN_BASKET} value of {r.subject_as_of:%Y-%m-%d}, {PEER_BASKET} of {r.compared_as_of:%Y-%m-%d})"
            if r.subject_as_of != r.value_date or r.compared_as_of != r.value_date
            else ""
        )
        stale = f" (dates mismatched: {r.note})" if r.dates_mismatched else ""
        out.append(
            f"- {CN_BASKET} / {PEER_BASKET} on {r.value_date:%Y-%m-%d}:"
            f" **{_pct(r.value, signed=False)}**{peer_text}{sides}{stale}"
        )
    if len(cap) or len(ratio):
        out.append("")
    if table.empty:
        out += ["The warehouse holds no index or basket data on or before this date.", ""]

    out += ["## Charts", ""]
    captions = {
        "indices_ytd": "Indices rebased to 100 since the start of the year, in local currency",
        "indices_1y": "Indices rebased to 100 one year back, in local currency",
        "cn_ai_market_cap": f"{CN_BASKET} market cap by subsector",
        "cn_to_peer_ratio": f"{CN_BASKET} as a share of {PEER_BASKET}",
    }
    for chart, caption in captions.items():
        out += [f"![{_titled(caption, label)}]({image(chart)})", ""]
    out.append(
        f"Values are as of {as_of}: each is the latest row on or before it, dated where it is given. Index"
        f" returns are in local currency, market caps in USD. Table: `{REPORT_TABLE}`."
    )
    return "\n".join(out) + "\n"


def write_atomically(path: Path, data: bytes) -> None:
    # A reader (or a browser refreshing the file) never sees half a chart.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _parse_as_of(value: str | None) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"as_of must be an ISO date (YYYY-MM-DD), got {value!r}") from exc


@asset(
    key=REPORT_KEY,
    deps=[AssetKey(["marts", name]) for name in MARTS_READ],
    group_name=REPORT_GROUP,
    kinds={"duckdb", "python"},
    pool=WAREHOUSE_POOL,
    # Part of the same single run as a raw backfill over a partition range (see assets/dbt.py).
    backfill_policy=BackfillPolicy.single_run(),
    description=(
        "The headline report as of one date (default: the latest in the warehouse): MTD/YTD/1Y returns of"
        " STAR 50, Hang Seng TECH and the Nasdaq-100 and who outperformed whom; the CN_AI basket's USD market"
        " cap and its one-year change; the CN/peer ratio. Table `marts.rpt_headline` (one row per fact), this"
        " asset's Markdown with the charts, and `headline.md` + PNG charts in the reports folder."
    ),
    metadata={"table": REPORT_TABLE},
)
def rpt_headline(
    context: AssetExecutionContext,
    config: HeadlineConfig,
    warehouse: Warehouse,
    report_output: ReportOutput,
    published: PublishedWarehouse,
) -> MaterializeResult:
    requested = _parse_as_of(config.as_of)
    generated_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    # Replaces marts.rpt_headline: on a lake, in turn with another run's dbt build or report.
    with warehouse.exclusive("transform"), warehouse.session() as wh:
        as_of = requested or latest_date(wh) or date.today()
        label = data_label(wh, report_output.synthetic_sample)
        table = build_headline_table(wh, as_of, label, generated_at)
        chart_data = load_chart_data(wh, as_of)

    figures = render_charts(chart_data, as_of, label)
    folder = Path(report_output.directory)
    folder.mkdir(parents=True, exist_ok=True)
    embedded: dict[str, str] = {}
    for chart, fig in figures.items():
        write_atomically(folder / CHART_FILES[chart], png_bytes(fig, FILE_DPI))
        embedded[chart] = "data:image/png;base64," + base64.b64encode(png_bytes(fig, METADATA_DPI, palette=True)).decode()
    report_file = folder / REPORT_FILE
    write_atomically(report_file, report_markdown(table, as_of, label, CHART_FILES.__getitem__).encode())
    context.log.info(f"Headline report as of {as_of} ({label}) written to {report_file}")
    # Run alone (from the UI, for another as-of date), the report is the run's last write.
    publication = publish_unless_a_later_step_does(context, warehouse, published, later=[PUBLISHED_KEY])

    return MaterializeResult(
        metadata={
            "report": MetadataValue.md(report_markdown(table, as_of, label, embedded.__getitem__)),
            "as_of_date": MetadataValue.text(as_of.isoformat()),
            "data": MetadataValue.text(label),
            "dagster/row_count": MetadataValue.int(len(table)),
            "report_file": MetadataValue.path(str(report_file)),
            "reports_folder": MetadataValue.path(str(folder)),
            "publication": MetadataValue.text(publication),
            "dates_mismatched": MetadataValue.int(int(table.dates_mismatched.fillna(False).sum())),
        }
    )


def report_definitions(settings: Settings) -> Definitions:
    output = ReportOutput(
        directory=str(settings.reports_dir or default_reports_dir(settings.duckdb_database)),
        synthetic_sample=settings.is_bundled_sample,
    )
    return Definitions(assets=[rpt_headline], resources={"report_output": output})
