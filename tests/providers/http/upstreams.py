"""The upstream hosts, served from one deterministic model of the market, in each host's real wire format
(as akshare 1.19.5 and yfinance 1.7.0 parse it):

- eastmoney push2his kline JSON (`data.klines`, comma-separated fields; A-share and CN index volume in
  lots of 100, HK volume in shares), its clist spot list, its datacenter JSON (share structure, HK
  indicators), `{"data": null}` for a code it does not know;
- Yahoo's v8 chart JSON (bars stamped in UTC, `close` unadjusted beside `adjclose`, dividends under
  `events`) and the fundamentals-timeseries share counts, plus the cookie/crumb handshake;
- csindex's closeweight spreadsheet.

`Market` is the truth the tests compare raw against: every served bar, in shares and exchange-local
dates, with the upstream that served it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pandas as pd

from orchestration.calendars import get_calendar
from tests.providers.http.transport import Call, FakeNet, Reply

D = date.fromisoformat
EM_KLINE = r"^https://(\d+\.)?push2his\.eastmoney\.com/api/qt/stock/kline/get\?"
EM_CLIST = r"^https://\d+\.push2\.eastmoney\.com/api/qt/clist/get\?"
EM_DATACENTER = r"^https://datacenter\.eastmoney\.com/securities/api/data/v1/get\?"
EM_BONUS = r"^https://datacenter-web\.eastmoney\.com/api/data/v1/get\?.*RPT_SHAREBONUS_DET"
CSINDEX = r"^https://oss-ch\.csindex\.com\.cn/static/.*/(\d{6})closeweight\.xls$"
YAHOO_CHART = r"^https://query\d\.finance\.yahoo\.com/v8/finance/chart/"
YAHOO_SHARES = r"^https://query\d\.finance\.yahoo\.com/ws/fundamentals-timeseries/v1/finance/timeseries/"
HTML_ERROR = "<html><head><title>502 Bad Gateway</title></head><body>nginx busy, retry later</body></html>"

# eastmoney secid prefix -> kind of kline line
CN_INDEX_SECIDS = {"1.000688", "1.000300", "0.399006"}
HK_INDEX_SECIDS = {"124.HSTECH": "恒生科技指数", "100.HSI": "恒生指数"}


def _seed(key: str) -> int:
    return zlib.crc32(key.encode())


@dataclass(frozen=True)
class Bar:
    day: date
    open: float
    high: float
    low: float
    close: float
    volume: float  # shares (or the unit Yahoo serves: shares, 0 for FX)


def session_days(calendar: str, first: date, last: date) -> list[date]:
    cal = get_calendar(calendar)
    days, d = [], first
    while d <= last:
        if cal.session_on(d) is not None:
            days.append(d)
        d += timedelta(days=1)
    return days


def make_bars(key: str, calendar: str, first: date, last: date, volume: bool = True) -> list[Bar]:
    seed = _seed(key)
    base = 10 + seed % 900 + (seed % 97) / 100
    bars = []
    for i, d in enumerate(session_days(calendar, first, last)):
        c = round(base * (1 + 0.004 * ((i * 7 + seed) % 11 - 5)), 2)
        lots = 1000 + (seed + i * 13) % 5000
        bars.append(
            Bar(d, round(c * 0.99, 2), round(c * 1.01, 2), round(c * 0.98, 2), c, lots * 100 if volume else 0)
        )
    return bars


@dataclass
class Market:
    """What the fake upstreams serve, between `first` and `last` (the latest bar any host has)."""

    first: date = date(2025, 11, 20)
    last: date = date(2026, 1, 16)
    # Overrides of the generated series, by upstream key ("em:1.688256", "yahoo:NVDA").
    bars: dict[str, list[Bar]] = field(default_factory=dict)
    # Yahoo dividends: ticker -> {ex_date: amount}; eastmoney front-adjusts (fqt=1) by the same amounts.
    dividends: dict[str, dict[date, float]] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)  # upstream keys answered with "no such code"
    # Yahoo splits: ticker -> {ex_date: ratio}. `bars` hold the prices as traded; Yahoo serves every bar
    # before an ex-date restated (prices / ratio, volume * ratio), whatever span is asked, and reports
    # the splits inside the span under `events`.
    splits: dict[str, dict[date, float]] = field(default_factory=dict)
    # eastmoney A-share bonus issues: code -> {ex_date: bonus and conversion shares per 10 held}. Every
    # code also has a cash-only plan (no shares), as most do.
    bonus: dict[str, dict[date, float]] = field(default_factory=dict)
    constituents_date: date = date(2026, 1, 15)

    def series(self, key: str, calendar: str, volume: bool = True) -> list[Bar]:
        if key not in self.bars:
            self.bars[key] = make_bars(key, calendar, self.first, self.last, volume)
        return self.bars[key]

    # --- eastmoney -----------------------------------------------------------------------------

    @staticmethod
    def em_calendar(secid: str) -> str:
        market = secid.split(".")[0]
        if market in ("116", "124", "100"):
            return "XHKG"
        if market in ("133", "119", "120"):
            return "WEEKDAYS"
        return "XSHG"

    def em_kline(self, call: Call) -> Reply:
        p = call.params
        secid = p["secid"]
        key = f"em:{secid}"
        if key in self.unknown:
            return Reply(body={"rc": 0, "rt": 17, "svr": 1, "lt": 1, "full": 0, "dlmkts": "", "data": None})
        bars = self.series(key, self.em_calendar(secid))
        beg, end = p.get("beg", "0"), p.get("end", "20500101")
        bars = [b for b in bars if beg <= b.day.strftime("%Y%m%d") <= end]
        adjust = self.dividends.get(key, {}) if p.get("fqt", "0") != "0" else {}
        lines = []
        for b in bars:
            # Front-adjusted (qfq) prices subtract every later dividend: what adjust='' must never store.
            cut = sum(a for ex, a in adjust.items() if ex > b.day)
            o, c, h, lo = (round(x - cut, 2) for x in (b.open, b.close, b.high, b.low))
            if secid in CN_INDEX_SECIDS:
                lines.append(f"{b.day},{o},{c},{h},{lo},{int(b.volume // 100)},{b.volume * c:.1f},2.10")
            elif secid in HK_INDEX_SECIDS or self.em_calendar(secid) == "WEEKDAYS":
                lines.append(
                    f"{b.day},{o},{c},{h},{lo},{int(b.volume)},{b.volume * c:.1f},1.9,0.5,0.1,0.0,{c},-,-"
                )
            elif secid.startswith("116."):
                lines.append(
                    f"{b.day},{o},{c},{h},{lo},{int(b.volume)},{b.volume * c:.2f},3.50,1.20,0.12,0.85"
                )
            else:  # A-share: volume in lots of 100 shares
                lines.append(
                    f"{b.day},{o},{c},{h},{lo},{int(b.volume // 100)},{b.volume * c:.2f},3.50,1.20,0.12,0.85"
                )
        code = secid.split(".", 1)[1]
        data = {
            "code": code,
            "market": int(secid.split(".")[0]),
            "name": code,
            "decimal": 2,
            "dktotal": len(lines),
            "preKPrice": 1.0,
            "klines": lines,
        }
        return Reply(
            body={"rc": 0, "rt": 17, "svr": 181669449, "lt": 1, "full": 0, "dlmkts": "", "data": data}
        )

    @staticmethod
    def em_clist(call: Call) -> Reply:
        spot = [
            {
                "f1": 2,
                "f2": 5850.5,
                "f3": 1.25,
                "f4": 72.3,
                "f5": 0,
                "f6": 3.1e10,
                "f12": sec.split(".")[1],
                "f13": int(sec.split(".")[0]),
                "f14": name,
                "f15": 5870.0,
                "f16": 5790.0,
                "f17": 5800.0,
                "f18": 5778.2,
            }
            for sec, name in HK_INDEX_SECIDS.items()
        ]
        return Reply(
            body={
                "rc": 0,
                "rt": 6,
                "svr": 1,
                "lt": 1,
                "full": 1,
                "dlmkts": "",
                "data": {"total": len(spot), "diff": spot},
            }
        )

    def share_changes(self, key: str) -> list[tuple[date, float]]:
        """A share count history: set at listing, changed once inside the served span."""
        base = 1e8 * (1 + _seed(key) % 90)
        return [(D("2024-06-28"), base), (D("2025-12-31"), round(base * 1.02))]

    def em_datacenter(self, call: Call) -> Reply:
        p = call.params
        secucode = p["filter"].split('"')[1]
        envelope = {"version": "x", "success": True, "message": "ok", "code": 0}
        if f"em:{secucode}" in self.unknown:
            return Reply(
                body={**envelope, "result": None, "success": False, "message": "返回数据为空", "code": 9201}
            )
        if p["reportName"] == "RPT_F10_EH_EQUITY":
            rows = [
                {
                    "SECUCODE": secucode,
                    "SECURITY_CODE": secucode[:6],
                    "END_DATE": f"{d} 00:00:00",
                    "TOTAL_SHARES": n,
                    "LIMITED_SHARES": 0,
                    "LIMITED_OTHARS": 0,
                    "LIMITED_DOMESTIC_NATURAL": 0,
                    "LIMITED_STATE_LEGAL": None,
                    "UNLIMITED_SHARES": n,
                    "LISTED_A_SHARES": n,
                    "FREE_SHARES": n,
                    "LIMITED_A_SHARES": 0,
                    "LIMITED_DOMESTIC_NOSTATE": 0,
                    "CHANGE_REASON": "定期报告",
                }
                for d, n in reversed(self.share_changes(f"em:{secucode}"))
            ]
            return Reply(body={**envelope, "result": {"pages": 1, "data": rows, "count": len(rows)}})
        n = self.share_changes(f"em:{secucode}")[-1][1]
        row = {
            "SECUCODE": secucode,
            "SECURITY_CODE": secucode[:5],
            "SECURITY_NAME_ABBR": secucode,
            "REPORT_DATE": "2025-09-30 00:00:00",
            "BASIC_EPS": 1.0,
            "PER_NETCASH_OPERATE": 1.0,
            "BPS": 1.0,
            "COMMON_ACS": None,
            "PER_SHARES": 100,
            "ISSUED_COMMON_SHARES": n,
            "HK_COMMON_SHARES": n,
            "TOTAL_MARKET_CAP": 1e11,
            "HKSK_MARKET_CAP": 1e11,
            "OPERATE_INCOME": 1e10,
            "OPERATE_INCOME_QOQ": 1.0,
            "HOLDER_PROFIT": 1e9,
            "HOLDER_PROFIT_QOQ": 1.0,
            "PE_TTM": 20.0,
            "PB_TTM": 2.0,
            "NET_PROFIT_RATIO": 10.0,
            "ROE_AVG": 10.0,
            "ROA": 5.0,
            "DIVIDEND_TTM": 1.0,
            "DIVI_RATIO": 10.0,
            "DIVIDEND_RATE": 1.0,
        }
        return Reply(body={**envelope, "result": {"pages": 1, "data": [row], "count": 1}})

    # RPT_SHAREBONUS_DET's 30 fields in the order akshare's stock_fhps_detail_em names them by position.
    BONUS_FIELDS = (
        "SECURITY_CODE", "SECURITY_NAME_ABBR", "SECUCODE", "ORG_CODE", "TRADE_MARKET_CODE", "BONUS_IT_RATIO",
        "BONUS_RATIO", "IT_RATIO", "PRETAX_BONUS_RMB", "PUBLISH_DATE", "EQUITY_RECORD_DATE", "EX_DIVIDEND_DATE",
        "REPORT_DATE", "ASSIGN_PROGRESS", "IMPL_PLAN_PROFILE", "NOTICE_DATE", "PAY_CASH_DATE",
        "D10_CLOSE_ADJCHRATE", "D30_CLOSE_ADJCHRATE", "BASIC_EPS", "BVPS", "PER_CAPITAL_RESERVE",
        "PER_UNASSIGN_PROFIT", "PNP_YOY_RATIO", "TOTAL_SHARES", "PLAN_NOTICE_DATE", "DIVIDENT_RATIO",
        "EX_DIVIDEND_DAYS", "EQUITY_RECORD_DAYS", "ORG_NAME",
    )

    def em_bonus(self, call: Call) -> Reply:
        code = call.params["filter"].split('"')[1]
        plans = [(D("2025-06-20"), None, 1.5), *((ex, per_10, None) for ex, per_10 in self.bonus.get(code, {}).items())]
        data = []
        for ex, per_10, cash in plans:
            stamp = f"{ex} 00:00:00"
            values = dict.fromkeys(self.BONUS_FIELDS)
            values |= {
                "SECURITY_CODE": code, "SECURITY_NAME_ABBR": code, "SECUCODE": f"{code}.SH", "BONUS_IT_RATIO": per_10,
                "BONUS_RATIO": None, "IT_RATIO": per_10, "PRETAX_BONUS_RMB": cash, "PUBLISH_DATE": stamp,
                "EQUITY_RECORD_DATE": f"{ex - timedelta(days=1)} 00:00:00", "EX_DIVIDEND_DATE": stamp,
                "REPORT_DATE": "2024-12-31 00:00:00", "ASSIGN_PROGRESS": "实施分配",
                "IMPL_PLAN_PROFILE": (f"10转{per_10:g}" if per_10 else f"10派{cash:g}元(含税)"),
                "NOTICE_DATE": stamp, "PLAN_NOTICE_DATE": stamp, "TOTAL_SHARES": 4.2e8,
            }
            data.append(values)
        return Reply(body={"version": "x", "result": {"pages": 1, "data": data, "count": len(data)},
                           "success": True, "message": "ok", "code": 0})

    CONSTITUENTS = (
        ("688256", "寒武纪", 9.8),
        ("688041", "海光信息", 8.9),
        ("688981", "中芯国际", 8.1),
        ("688012", "中微公司", 5.2),
        ("688008", "澜起科技", 4.6),
    )

    def csindex(self, call: Call) -> Reply:
        stamp = self.constituents_date.strftime("%Y%m%d")
        frame = pd.DataFrame(
            [
                [
                    stamp,
                    "000688",
                    "科创50",
                    "SSE STAR 50",
                    code,
                    name,
                    name,
                    "上海证券交易所",
                    "Shanghai Stock Exchange",
                    w,
                ]
                for code, name, w in self.CONSTITUENTS
            ],
            columns=[
                "日期Date",
                "指数代码 Index Code",
                "指数名称 Index Name",
                "指数英文名称Index Name(Eng)",
                "成份券代码Constituent Code",
                "成份券名称Constituent Name",
                "成份券英文名称Constituent Name(Eng)",
                "交易所Exchange",
                "交易所英文名称Exchange(Eng)",
                "权重(%)weight",
            ],
        )
        buf = BytesIO()  # an .xlsx body: pandas reads the sheet by its content, whatever the .xls name says
        frame.to_excel(buf, index=False)
        return Reply(body=buf.getvalue(), content_type="application/vnd.ms-excel")

    # --- Yahoo ----------------------------------------------------------------------------------

    @staticmethod
    def yahoo_listing(ticker: str) -> tuple[str, str, str, str]:
        """ticker -> (exchange timezone, calendar, currency, instrument type)."""
        if ticker.endswith("=X"):
            return "Europe/London", "WEEKDAYS", ticker[:3], "CURRENCY"
        suffix = ticker.rsplit(".", 1)[1] if "." in ticker else ""
        table = {
            "SS": ("Asia/Shanghai", "XSHG", "CNY"),
            "SZ": ("Asia/Shanghai", "XSHG", "CNY"),
            "HK": ("Asia/Hong_Kong", "XHKG", "HKD"),
            "KS": ("Asia/Seoul", "XKRX", "KRW"),
            "KQ": ("Asia/Seoul", "XKRX", "KRW"),
            "T": ("Asia/Tokyo", "XTKS", "JPY"),
            "TW": ("Asia/Taipei", "XTAI", "TWD"),
        }
        tz, cal, ccy = table.get(suffix, ("America/New_York", "XNYS", "USD"))
        if ticker == "^HSI":
            tz, cal, ccy = table["HK"]
        kind = (
            "INDEX"
            if ticker.startswith("^") or ticker in ("HSTECH.HK", "000688.SS", "000300.SS", "399006.SZ")
            else "EQUITY"
        )
        return tz, cal, ccy, kind

    @staticmethod
    def yahoo_stamp(day: date, tz: str, kind: str) -> int:
        # Daily bars are stamped at the session open (FX: local midnight), in UTC seconds.
        at = time(0, 0) if kind == "CURRENCY" else time(9, 30)
        return int(datetime.combine(day, at, ZoneInfo(tz)).astimezone(UTC).timestamp())

    def yahoo_chart(self, call: Call) -> Reply:
        ticker = call.url.split("/v8/finance/chart/", 1)[1].split("?", 1)[0].replace("%5E", "^")
        key = f"yahoo:{ticker}"
        if key in self.unknown:
            return Reply(
                404,
                {
                    "chart": {
                        "result": None,
                        "error": {
                            "code": "Not Found",
                            "description": "No data found, symbol may be delisted",
                        },
                    }
                },
            )
        tz, cal, ccy, kind = self.yahoo_listing(ticker)
        bars = self.series(key, cal, volume=kind != "CURRENCY")
        p = call.params
        if "period1" in p:
            lo, hi = int(p["period1"]), int(p["period2"])
            bars = [b for b in bars if lo <= self.yahoo_stamp(b.day, tz, kind) < hi]
        else:  # range=1d: the time-zone lookup
            bars = bars[-1:]
        splits = self.splits.get(ticker, {})
        if splits:
            def restated(b: Bar) -> Bar:
                f = 1.0
                for ex, ratio in splits.items():
                    f = f * ratio if b.day < ex else f
                return Bar(b.day, b.open / f, b.high / f, b.low / f, b.close / f, b.volume * f)

            bars = [restated(b) for b in bars]
        stamps = [self.yahoo_stamp(b.day, tz, kind) for b in bars]
        divs = self.dividends.get(key, {})
        # adjclose back-adjusts every bar before an ex-date by its dividend; close never is.
        adj = [
            round(b.close * (1 - sum(a / b.close for ex, a in divs.items() if ex > b.day)), 4) for b in bars
        ]
        events = (
            {
                "dividends": {
                    str(self.yahoo_stamp(ex, tz, kind)): {"amount": a, "date": self.yahoo_stamp(ex, tz, kind)}
                    for ex, a in divs.items()
                }
            }
            if divs
            else {}
        )
        shown = {ex: r for ex, r in splits.items() if stamps and stamps[0] <= self.yahoo_stamp(ex, tz, kind) <= stamps[-1]}
        if shown:
            events["splits"] = {
                str(self.yahoo_stamp(ex, tz, kind)): {"date": self.yahoo_stamp(ex, tz, kind), "numerator": r,
                                                      "denominator": 1, "splitRatio": f"{r:g}:1"}
                for ex, r in shown.items()
            }
        gmtoffset = int(datetime.now(ZoneInfo(tz)).utcoffset().total_seconds())
        last = stamps[-1] if stamps else 0
        period = {"timezone": "X", "start": last, "end": last + 23400, "gmtoffset": gmtoffset}
        meta = {
            "currency": ccy,
            "symbol": ticker,
            "exchangeName": "X",
            "fullExchangeName": "X",
            "instrumentType": kind,
            "firstTradeDate": 946857600,
            "regularMarketTime": last,
            "hasPrePostMarketData": False,
            "gmtoffset": gmtoffset,
            "timezone": "X",
            "exchangeTimezoneName": tz,
            "regularMarketPrice": bars[-1].close if bars else None,
            "priceHint": 2,
            "currentTradingPeriod": {"pre": period, "regular": period, "post": period},
            "dataGranularity": "1d",
            "range": "",
            "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"],
        }
        result = {
            "meta": meta,
            "timestamp": stamps,
            "events": events,
            "indicators": {
                "quote": [
                    {
                        "open": [b.open for b in bars],
                        "high": [b.high for b in bars],
                        "low": [b.low for b in bars],
                        "close": [b.close for b in bars],
                        "volume": [int(b.volume) for b in bars],
                    }
                ],
                "adjclose": [{"adjclose": adj}],
            },
        }
        if not bars:
            result.pop("timestamp")
        return Reply(body={"chart": {"result": [result], "error": None}})

    def yahoo_shares(self, call: Call) -> Reply:
        ticker = call.params["symbol"]
        tz, *_ = self.yahoo_listing(ticker)
        lo, hi = int(call.params["period1"]), int(call.params["period2"])
        changes = [
            (int(datetime.combine(d, time(0), ZoneInfo(tz)).astimezone(UTC).timestamp()), n)
            for d, n in self.share_changes(f"yahoo:{ticker}")
        ]
        changes = [(t, n) for t, n in changes if lo <= t < hi]
        result = {"meta": {"symbol": [ticker], "type": ["shares_out"]}}
        if changes:
            result |= {"timestamp": [t for t, _ in changes], "shares_out": [n for _, n in changes]}
        return Reply(body={"timeseries": {"result": [result], "error": None}})

    def shares_local(self, key: str, tz: str) -> list[tuple[date, float]]:
        return self.share_changes(key)


def serve(net: FakeNet, market: Market) -> FakeNet:
    """Every host the live providers call, answered from `market`."""
    net.route(EM_KLINE, market.em_kline)
    net.route(EM_CLIST, market.em_clist)
    net.route(EM_DATACENTER, market.em_datacenter)
    net.route(EM_BONUS, market.em_bonus)
    net.route(CSINDEX, market.csindex)
    net.route(YAHOO_CHART, market.yahoo_chart)
    net.route(YAHOO_SHARES, market.yahoo_shares)
    net.route(r"^https://fc\.yahoo\.com/?$", Reply(404, "<html>not found</html>"))
    net.route(
        r"^https://query\d\.finance\.yahoo\.com/v1/test/getcrumb", Reply(200, "fakecrumb", "text/plain")
    )
    net.route(r"^https://guce\.yahoo\.com/consent", Reply(200, "<html><body>no consent form</body></html>"))
    return net


def history_calls(net: FakeNet, ticker: str) -> list[Call]:
    """Yahoo chart requests for a price window (not the time-zone lookup)."""
    return [c for c in net.to(YAHOO_CHART + ticker.replace("^", "(\\^|%5E)")) if "period1" in c.url]
