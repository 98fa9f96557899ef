"""The live provider (CTR_SOURCE=live): routes each id to akshare or yfinance and falls back to the other
where that gives the same quantity.

| dataset             | first                                  | then                                |
|---------------------|----------------------------------------|-------------------------------------|
| index_prices        | CN/HK indices: akshare (eastmoney, sina) | yfinance (000688.SS, HSTECH.HK...) |
|                     | NDX: yfinance                          |                                     |
| stock_prices        | .SS/.SZ/.HK: akshare (eastmoney, sina) | yfinance                            |
|                     | US/JP/KR...: yfinance                  |                                     |
| fx_rates            | yfinance (CNY=X... inverted)           | akshare forex_hist_em (CNY via CNH) |
| shares_outstanding  | A-shares: akshare share structure      | yfinance                            |
|                     | HK: yfinance history                   | akshare latest issued shares        |
|                     | others: yfinance                       |                                     |
| index_constituents  | STAR50/CSI300: akshare csindex (latest) | none; HSTECH has no live source    |
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import date

import pandas as pd
from pydantic import PrivateAttr

from orchestration.datasets import (
    CORPORATE_ACTIONS,
    FX_RATES,
    INDEX_CONSTITUENTS,
    INDEX_PRICES,
    SHARES_OUTSTANDING,
    STOCK_PRICES,
    Dataset,
)
from orchestration.resources.providers.akshare_provider import AkshareProvider
from orchestration.resources.providers.base import (
    FetchResult,
    MarketDataProvider,
    ProviderError,
    SourceUnreachableError,
    suspect_ids,
)
from orchestration.resources.providers.resilience import ResilientProvider, combine, describe, log
from orchestration.resources.providers.symbols import index_codes, listing, unique
from orchestration.resources.providers.yfinance_provider import YFinanceProvider

AKSHARE, YFINANCE = "akshare", "yfinance"
# One cheap request per upstream host family; any HTTP answer (even 403/404) proves it reachable.
PROBES = {
    "eastmoney": ("https://push2his.eastmoney.com/", AKSHARE),
    "sina": ("https://finance.sina.com.cn/", AKSHARE),
    "yahoo": ("https://query2.finance.yahoo.com/", YFINANCE),
}
MAX_REACHABILITY_WAIT_S = 45.0


def probe(url: str, timeout_s: float) -> str | None:
    """None when the host answers over HTTP(S), else why not. Honours proxy environment variables."""
    import requests

    try:
        requests.head(url, timeout=timeout_s, allow_redirects=False)
        return None
    except Exception as exc:  # noqa: BLE001
        text = str(exc)
        for needle, reason in (
            ("resolve", "DNS lookup failed"),
            ("timed out", "timed out"),
            ("refused", "connection refused"),
            ("blocked", "network blocked"),
        ):
            if needle in text.lower():
                return reason
        return describe(exc, limit=160)


class LiveProvider(ResilientProvider):
    """akshare + yfinance, routed per id, with per-id fallbacks. Call check_reachable() before a run."""

    _down: set[str] = PrivateAttr(default_factory=set)

    @property
    def source_name(self) -> str:
        return "live"

    def _providers(self) -> dict[str, MarketDataProvider]:
        return {AKSHARE: AkshareProvider(**self._knobs()), YFINANCE: YFinanceProvider(**self._knobs())}

    def check_reachable(self, timeout_s: float = 10.0) -> dict[str, str | None]:
        """Probe every upstream in parallel, bounded by timeout_s (at most 45 s) in total.

        Raises SourceUnreachableError when none answers; otherwise returns host -> None or the reason, and
        routes around a library whose hosts are all down for the rest of this provider's life.
        """
        timeout_s = min(max(timeout_s, 0.5), MAX_REACHABILITY_WAIT_S)
        results: dict[str, str | None] = {name: f"no answer within {timeout_s:.0f} s" for name in PROBES}

        def run(name: str, url: str) -> None:
            results[name] = probe(url, timeout_s)

        # Daemon threads: a resolver stuck past the deadline must not hold up the run or interpreter exit.
        threads = [threading.Thread(target=run, args=(n, u), daemon=True) for n, (u, _) in PROBES.items()]
        deadline = time.monotonic() + timeout_s + 1.0
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        status = dict(results)
        if all(status.values()):
            details = "; ".join(f"{name}: {reason}" for name, reason in status.items())
            raise SourceUnreachableError(
                f"The live market-data sources (akshare: eastmoney/sina, yfinance: Yahoo Finance) are unreachable "
                f"from this machine ({details}). Check the network or proxy settings, or run `make demo` to build "
                "the warehouse from the bundled offline sample instead."
            )
        self._down = {
            lib
            for lib in (AKSHARE, YFINANCE)
            if all(status[h] for h, (_, owner) in PROBES.items() if owner == lib)
        }
        return status

    def _route(
        self, dataset: Dataset, ids: Sequence[str], start: date, end: date, plan: Callable[[str], list[str]]
    ) -> FetchResult:
        providers = self._providers()
        failures: dict[str, str] = {}
        reasons: dict[str, list[str]] = {}
        pending: dict[str, list[str]] = {}
        for i in unique(ids):
            try:
                pending[i] = plan(i)
            except ProviderError as exc:
                failures[i] = describe(exc)
        frames: list[pd.DataFrame] = []
        actions: list[pd.DataFrame] = []
        used: list[str] = []
        while pending:
            groups: dict[str, list[str]] = {}
            for i, chain in pending.items():
                groups.setdefault(chain[0], []).append(i)
            nxt: dict[str, list[str]] = {}
            for name, group in groups.items():
                if name in self._down:
                    result_failures = {i: f"{name} hosts unreachable at the start of this run" for i in group}
                else:
                    try:
                        # fetch_span, not fetch: this provider's own fetch already widened the window for
                        # the carry-in rule, and carrying in twice would restamp inside the widened span.
                        result = providers[name].fetch_span(dataset, group, start, end)
                    except Exception as exc:  # noqa: BLE001 - a broken adapter must not hide the fallback
                        result = FetchResult(
                            dataset,
                            combine([], dataset.column_names),
                            name,
                            {i: describe(exc) for i in group},
                        )
                    result_failures = result.failures
                    if result.actions is not None:
                        actions.append(result.actions)
                    frame = self._second_opinion(dataset, result.frame, pending, providers, start, end, used)
                    if not frame.empty:
                        frames.append(frame)
                        used.append(name)
                for i in group:
                    if i not in result_failures:
                        continue
                    reasons.setdefault(i, []).append(f"[{name}] {result_failures[i]}")
                    if len(pending[i]) > 1:
                        nxt[i] = pending[i][1:]
                    else:
                        failures[i] = " | then ".join(reasons[i])
            pending = nxt
        source = "+".join(unique(used)) or self.source_name
        return FetchResult(dataset, combine(frames, dataset.column_names), source, failures,
                           actions=combine(actions, CORPORATE_ACTIONS.column_names) if actions else None)

    def _second_opinion(
        self,
        dataset: Dataset,
        frame: pd.DataFrame,
        chains: dict[str, list[str]],
        providers: dict[str, MarketDataProvider],
        start: date,
        end: date,
        used: list[str],
    ) -> pd.DataFrame:
        """A source's answer with each suspect id (a non-positive or non-finite value, two answers for
        one day) replaced by the whole window of the next source in its chain, when that source's answer
        for it is clean. One source per id and window, never a day-by-day mix of two: sources differ in
        units and adjustments, and the audits compare a series with itself. When no later source has a
        clean answer the first one stays, and quarantine sets aside only its bad rows."""
        suspects = suspect_ids(dataset, frame)
        entity = dataset.entity_column
        for entity_id, why in sorted(suspects.items()):
            for name in chains.get(entity_id, [])[1:]:
                if name in self._down:
                    continue
                try:
                    other = providers[name].fetch_span(dataset, [entity_id], start, end).frame
                except Exception as exc:  # noqa: BLE001 - the first answer's good rows still load
                    log.warning("%s %s: %s; %s failed too: %s", dataset.name, entity_id, why, name, describe(exc))
                    continue
                other = other[other[entity] == entity_id]
                if other.empty or suspect_ids(dataset, other):
                    log.warning("%s %s: %s; %s has no clean answer either", dataset.name, entity_id, why, name)
                    continue
                log.warning("%s %s: %s; its window %s..%s is taken from %s instead", dataset.name, entity_id,
                            why, start, end, name)
                frame = pd.concat([frame[frame[entity] != entity_id], other], ignore_index=True)
                used.append(name)
                break
        return frame

    @staticmethod
    def _stock_plan(a_share: list[str], hk: list[str], other: list[str]) -> Callable[[str], list[str]]:
        def plan(symbol: str) -> list[str]:
            lst = listing(symbol)
            return a_share if lst.is_a_share else hk if lst.is_hk else other

        return plan

    def index_prices(self, index_ids: Sequence[str], start: date, end: date) -> FetchResult:
        def plan(index_id: str) -> list[str]:
            codes = index_codes(index_id)
            chain = [AKSHARE] if codes.market in ("CN", "HK") and (codes.akshare or codes.akshare_em) else []
            chain += [YFINANCE] if codes.yahoo else []
            if not chain:
                raise ProviderError(f"index {index_id}: no live source in the index catalog")
            return chain

        return self._route(INDEX_PRICES, index_ids, start, end, plan)

    def stock_prices(self, symbols: Sequence[str], start: date, end: date) -> FetchResult:
        plan = self._stock_plan([AKSHARE, YFINANCE], [AKSHARE, YFINANCE], [YFINANCE])
        return self._route(STOCK_PRICES, symbols, start, end, plan)

    def fx_rates(self, currencies: Sequence[str], start: date, end: date) -> FetchResult:
        return self._route(FX_RATES, currencies, start, end, lambda _: [YFINANCE, AKSHARE])

    def shares_outstanding(self, symbols: Sequence[str], start: date, end: date) -> FetchResult:
        # HK: Yahoo has a share-count history; akshare only the latest count, stamped today.
        plan = self._stock_plan([AKSHARE, YFINANCE], [YFINANCE, AKSHARE], [YFINANCE])
        return self._route(SHARES_OUTSTANDING, symbols, start, end, plan)

    def index_constituents(self, index_ids: Sequence[str], start: date, end: date) -> FetchResult:
        return self._route(INDEX_CONSTITUENTS, index_ids, start, end, lambda _: [AKSHARE])

    def index_prices_by_source(
        self, index_ids: Sequence[str], start: date, end: date
    ) -> dict[str, FetchResult]:
        """The same indices from each library separately, for cross-source reconciliation."""
        providers = self._providers()
        return {
            name: providers[name].index_prices(index_ids, start, end)
            for name in (AKSHARE, YFINANCE)
            if name not in self._down
        }
