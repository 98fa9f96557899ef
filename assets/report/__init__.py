"""The headline report, rendered: Markdown with the charts on the asset (what the Dagster UI shows), and
`headline.md` + PNG charts in the reports folder (what a reader opens or mails).

Every figure, date and look-back comes from the dbt report models (`marts.rpt_headline`, one row per
fact, and `marts.rpt_index_rebased`, the chart lines; dbt_project/models/reports): this module reads
them and draws. The report's date is the dbt asset's `report_as_of` config (assets/dbt/).
"""
# No `from __future__ import annotations`: Dagster reads the resource annotations at decoration time.

import base64
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    ConfigurableResource,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
    definitions,
)
from pydantic import Field

from orchestration.composition import current
from orchestration.reference import headline_baskets
from orchestration.resources.warehouse import Warehouse, WarehouseSession
from orchestration.settings import PROJECT_ROOT

REPORT_KEY = AssetKey(["reports", "headline"])
HEADLINE_TABLE = "marts.rpt_headline"
REBASED_TABLE = "marts.rpt_index_rebased"
REPORT_GROUP = "reports"
# What the rendering reads, besides the two report models.
MARTS_READ = (
    "rpt_headline",
    "rpt_index_rebased",
    "fct_ai_basket_members_daily",
    "fct_ai_market_cap_ratio",
    "dim_security",
)
MIXED = "synthetic sample mixed with"
# The baskets seed's headline pair (CN_AI against GLOBAL_AI_EX_CN), as fct_ai_market_cap_ratio reports it.
CN_BASKET, PEER_BASKET = headline_baskets()
SYNTHETIC = "synthetic sample"

REPORT_FILE = "headline.md"
CHART_FILES = {
    "indices_ytd": "indices_ytd.png",
    "indices_1y": "indices_1y.png",
    "cn_ai_market_cap": "cn_ai_market_cap_by_subsector.png",
    "cn_to_peer_ratio": "cn_to_peer_ratio.png",
}
# Files are for reading and the README; the copies inside the event log stay small.
FILE_DPI, METADATA_DPI = 120, 64


class ReportOutput(ConfigurableResource):
    """Where the report files go."""

    directory: str = Field(
        default=str(PROJECT_ROOT / "reports"), description="Folder for headline.md and the PNG charts."
    )


@dataclass(frozen=True)
class Headline:
    """The report models as of one date: the facts, and the chart series."""

    as_of: date | None  # None: the marts hold nothing on or before the requested date
    label: str
    table: pd.DataFrame  # marts.rpt_headline
    rebased: pd.DataFrame  # marts.rpt_index_rebased
    cap_by_subsector: pd.DataFrame  # trade_date x subsector, USD
    ratio: pd.DataFrame  # trade_date, cn_to_peer_ratio

    def indices(self, period: str) -> pd.DataFrame:
        return self.rebased[self.rebased.period == period]

    def period_start(self, period: str) -> date | None:
        starts = self.indices(period).period_start
        return starts.iloc[0] if len(starts) else None

    @property
    def one_year_back(self) -> date | None:
        """The base date of the headline basket's one-year change."""
        bases = self.table[(self.table.subject == CN_BASKET) & self.table.base_date.notna()].base_date
        return bases.iloc[0] if len(bases) else None


def _dates(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column]).dt.date.where(frame[column].notna(), None)
    return frame


def load_headline(wh: WarehouseSession) -> Headline:
    table = _dates(wh.frame(f"select * from {HEADLINE_TABLE} order by line"),
                   "as_of_date", "value_date", "base_date", "subject_as_of", "compared_as_of")
    rebased = _dates(wh.frame(f"select * from {REBASED_TABLE} order by period, index_order, index_id, trade_date"),
                     "as_of_date", "period_start", "base_date", "trade_date")
    dated = table if len(table) else rebased
    as_of = dated.as_of_date.iloc[0] if len(dated) else None
    label = table.data_label.iloc[0] if len(table) else "no data"
    until = as_of or date.min
    by_subsector = wh.frame(
        """
        select m.trade_date, coalesce(s.subsector, 'unclassified') as subsector, sum(m.market_cap_usd) as usd
        from marts.fct_ai_basket_members_daily as m
        left join marts.dim_security as s using (symbol)
        where m.basket_id = ? and m.trade_date <= ? and m.market_cap_usd is not null
        group by all order by 1, 2
        """,
        [CN_BASKET, until],
    )
    cap = by_subsector.pivot(index="trade_date", columns="subsector", values="usd").fillna(0.0)
    if len(cap.columns):
        # Largest subsector at the bottom of the stack, where its changes read most easily.
        cap = cap[cap.iloc[-1].sort_values(ascending=False).index]
    ratio = wh.frame(
        "select trade_date, cn_to_peer_ratio from marts.fct_ai_market_cap_ratio where trade_date <= ? order by 1",
        [until],
    )
    return Headline(as_of, label, table, rebased, cap, ratio)


def _titled(title: str, label: str) -> str:
    if label == SYNTHETIC:
        return f"{title} ({SYNTHETIC})"
    return f"{title} ({MIXED} other data)" if label.startswith(MIXED) else title


def render_charts(h: Headline) -> dict[str, Any]:
    """The four charts as matplotlib Figures; no pyplot, so no GUI backend and no global state."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    def new(title: str) -> tuple[Any, Any]:
        fig = Figure(figsize=(9, 4.6), layout="constrained")
        ax = fig.add_subplot()
        ax.set_title(_titled(title, h.label), fontsize=11, loc="left")
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

    as_of = h.as_of or "n/a"
    ytd_start, year_start = h.period_start("YTD"), h.period_start("1Y")
    charts = {
        "indices_ytd": lines(
            h.indices("YTD"),
            f"Year to date, in local currency: indices rebased to 100 at the last close of"
            f" {ytd_start.year - 1 if ytd_start else 'the previous year'}, to {as_of}",
        ),
        "indices_1y": lines(
            h.indices("1Y"),
            f"One year, in local currency: indices rebased to 100 as of {year_start or 'one year back'}, to {as_of}",
        ),
    }

    fig, ax = new(f"{CN_BASKET} basket market cap by subsector, USD bn, to {as_of}")
    cap = h.cap_by_subsector
    if cap.empty:
        no_data(ax)
    else:
        dates = pd.to_datetime(cap.index)
        ax.stackplot(dates, *(cap[c].to_numpy() / 1e9 for c in cap.columns), labels=list(cap.columns), alpha=0.85)
        ax.legend(loc="upper left", fontsize=8, frameon=False, reverse=True)
        ax.set_ylabel("USD bn")
        if h.one_year_back is not None and dates[0] <= pd.Timestamp(h.one_year_back):
            year_back = pd.Timestamp(h.one_year_back)
            ax.axvline(year_back, color="0.3", linestyle="--", linewidth=0.8)
            ax.annotate("one year earlier", (year_back, ax.get_ylim()[1]), xytext=(3, -12),
                        textcoords="offset points", fontsize=8, color="0.3")
    charts["cn_ai_market_cap"] = fig

    fig, ax = new(f"{CN_BASKET} market cap as % of {PEER_BASKET}, to {as_of}")
    if h.ratio.empty:
        no_data(ax)
    else:
        ax.plot(pd.to_datetime(h.ratio.trade_date), 100 * h.ratio.cn_to_peer_ratio, linewidth=1.6)
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


def _pct(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{100 * value:+.1f}%"


def _returns_table(returns: pd.DataFrame, with_currency: bool) -> list[str]:
    """One line per index: its MTD, YTD and 1Y returns as of its latest close."""
    head = ["index", *(["currency"] if with_currency else []), "as of", "MTD", "YTD", "1Y"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, rows in returns.groupby("subject", sort=False):
        by_period = dict(zip(rows.period, rows.value, strict=True))
        stale = " (dates mismatched)" if rows.dates_mismatched.fillna(False).any() else ""
        currency = f" | {rows.currency.iloc[0] or 'n/a'}" if with_currency else ""
        lines.append(
            f"| {rows.subject_name.iloc[0]}{currency} | {rows.value_date.iloc[0]:%Y-%m-%d}{stale}"
            f" | {_pct(by_period.get('MTD'))} | {_pct(by_period.get('YTD'))} | {_pct(by_period.get('1Y'))} |"
        )
    return lines


def report_markdown(h: Headline, image: Callable[[str], str]) -> str:
    """The report as Markdown; `image(chart)` gives each chart's URL (a file name, or a data: URI).

    Every sentence is `marts.rpt_headline`'s `headline` (its wording lives there, once); this adds the
    banners, the returns as two tables, the order of the lines and the charts."""
    table, label = h.table, h.label
    as_of = h.as_of or "the requested date"
    title = _titled(f"China tech rally: the headline as of {as_of}", label)
    out = [f"# {title}", ""]
    if label == SYNTHETIC:
        out += ["> Built from the bundled **synthetic sample** (`sample_data/`): realistic in shape, not market data.", ""]
    elif label.startswith(MIXED):
        out += [f"> **Mixed data**: {label}. Figures rest on both; start fresh with `make clean-warehouse`.", ""]
    else:
        out += [f"Data: {label}.", ""]
    flagged = table[table.dates_mismatched.fillna(False).astype(bool)]
    if len(flagged):
        notes = list(dict.fromkeys(flagged.note.dropna()))
        out += [
            (f"> **Dates mismatched**: {len(flagged)} of {len(table)} figures rest on data more trading sessions"
             " older than the report date or than what they are compared with than the report allows (dbt var"
             " `max_sessions_apart`); each says so below, and a comparison of sides that far apart gives no verdict."),
            *(f"> - {n}" for n in notes),
            "",
        ]

    returns = table[table.topic == "index_return"]
    local = returns[returns.measure == "return"]
    # A USD index's USD return is its return: the report has one row for it, in both tables.
    usd = returns[(returns.measure == "return_usd") | ((returns.measure == "return") & (returns.currency == "USD"))]
    if len(local):
        out += [
            "## Index returns", "",
            "Price returns in each index's own (local) currency; in US dollars in the second table.", "",
            *_returns_table(local, with_currency=True), "",
            "In US dollars (each close converted with the FX rate as of its date, `marts.fct_fx_rates`):", "",
            *_returns_table(usd, with_currency=False), "",
            "**Who outperformed whom**, best first in each period: in local currency, then in USD", "",
        ]
        for (basis, period), rows in pd.concat([local.assign(basis="local currency"), usd.assign(basis="USD")]).groupby(
                ["basis", "period"], sort=False):
            ranked = enumerate(rows.sort_values("rank").headline, 1)
            out += [f"- {period} in {basis}:", *(f"  {n}. {line}" for n, line in ranked)]
        out.append("")
    sections = {
        "ai_market_cap": "## AI market cap: the headline basket against its peer",
        "ai_contribution": ("## Who drove it: the largest contributors to the headline basket's change in USD\n\n"
                            "Each member's (and subsector's) change in market cap over the period; they add up to the"
                            " basket's (`marts.fct_ai_basket_member_contribution`,"
                            " `marts.fct_ai_basket_subsector_contribution`)."),
    }
    for topic, heading in sections.items():
        topics = (topic, "ai_market_cap_ratio") if topic == "ai_market_cap" else (topic,)
        lines = table[table.topic.isin(topics)].headline
        if len(lines):
            out += [heading, "", *(f"- {line}" for line in lines), ""]
    if table.empty:
        out += ["The warehouse holds no index or basket data on or before this date.", ""]

    out += ["## Charts", ""]
    captions = {
        "indices_ytd": "Indices rebased to 100 since the start of the year, in local currency",
        "indices_1y": "Indices rebased to 100 one year back, in local currency",
        "cn_ai_market_cap": f"{CN_BASKET} market cap by subsector",
        "cn_to_peer_ratio": f"{CN_BASKET} market cap as % of {PEER_BASKET}'s",
    }
    for chart, caption in captions.items():
        out += [f"![{_titled(caption, label)}]({image(chart)})", ""]
    out.append(
        f"Values are as of {as_of}: each is the latest row on or before it, dated where it is given. Index"
        f" returns are in local currency and in USD, market caps in USD. Table: `{HEADLINE_TABLE}`."
    )
    return "\n".join(out) + "\n"


def write_atomically(path: Path, data: bytes) -> None:
    # A reader (or a browser refreshing the file) never sees half a chart.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@asset(
    key=REPORT_KEY,
    deps=[AssetKey(["marts", name]) for name in MARTS_READ],
    group_name=REPORT_GROUP,
    kinds={"python", "markdown"},
    # Part of the same single run as a raw backfill over a partition range (see assets/dbt/).
    backfill_policy=BackfillPolicy.single_run(),
    description=(
        "The headline report rendered from `marts.rpt_headline` and `marts.rpt_index_rebased`: MTD/YTD/1Y"
        " returns of STAR 50, Hang Seng TECH and the Nasdaq-100 and who outperformed whom; the CN_AI basket's"
        " USD market cap and its one-year change, and its peer's; the CN/peer ratio now and a year earlier; the top contributors. This asset's Markdown with the charts,"
        " and `headline.md` + PNG charts in the reports folder. For another date, materialise it with"
        " marts/rpt_headline and set `report_as_of` in the dbt step's config."
    ),
)
def headline_report(
    context: AssetExecutionContext, warehouse: Warehouse, report_output: ReportOutput
) -> MaterializeResult:
    with warehouse.session() as wh:
        h = load_headline(wh)

    figures = render_charts(h)
    folder = Path(report_output.directory)
    folder.mkdir(parents=True, exist_ok=True)
    embedded: dict[str, str] = {}
    for chart, fig in figures.items():
        write_atomically(folder / CHART_FILES[chart], png_bytes(fig, FILE_DPI))
        embedded[chart] = "data:image/png;base64," + base64.b64encode(png_bytes(fig, METADATA_DPI, palette=True)).decode()
    report_file = folder / REPORT_FILE
    write_atomically(report_file, report_markdown(h, CHART_FILES.__getitem__).encode())
    context.log.info(f"Headline report as of {h.as_of} ({h.label}) written to {report_file}")

    return MaterializeResult(
        metadata={
            "report": MetadataValue.md(report_markdown(h, embedded.__getitem__)),
            "as_of_date": MetadataValue.text(h.as_of.isoformat() if h.as_of else "no data"),
            "data": MetadataValue.text(h.label),
            "dagster/row_count": MetadataValue.int(len(h.table)),
            "table": MetadataValue.text(HEADLINE_TABLE),
            "report_file": MetadataValue.path(str(report_file)),
            "reports_folder": MetadataValue.path(str(folder)),
            "dates_mismatched": MetadataValue.int(int(h.table.dates_mismatched.fillna(False).sum())),
        }
    )


@definitions
def defs() -> Definitions:
    settings = current().settings
    output = ReportOutput(directory=str(settings.reports_folder))
    return Definitions(assets=[headline_report], resources={"report_output": output})
