"""Cross-source check on raw.index_prices: the China tech indices from akshare and from yfinance must agree.

Two independent upstreams (eastmoney/sina vs Yahoo) agreeing within 0.5% on the same exchange-local dates
is the best evidence that neither is mislabelled, adjusted, stale or shifted by a day."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    PartitionsDefinition,
    asset_check,
)

from orchestration.reference import constituent_counts

RAW_INDEX_PRICES = AssetKey(["raw", "index_prices"])
DEFAULT_TOLERANCE = 0.005


@dataclass
class Reconciliation:
    index_id: str
    left: str
    right: str
    common_dates: int = 0
    # (date, left close, right close, relative difference)
    mismatches: list[tuple[date, float, float, float]] = field(default_factory=list)
    only_left: list[date] = field(default_factory=list)
    only_right: list[date] = field(default_factory=list)
    problem: str | None = None

    @property
    def passed(self) -> bool:
        return self.problem is None and not self.mismatches and not self.only_left and not self.only_right

    def summary(self) -> str:
        if self.problem:
            return f"{self.index_id}: {self.problem}"
        parts = [f"{self.index_id}: {self.common_dates} common dates"]
        if self.mismatches:
            parts.append(
                f"{len(self.mismatches)} close(s) differ by more than the tolerance: "
                + ", ".join(
                    f"{d} {self.left} {a:.2f} vs {self.right} {b:.2f} ({diff:+.2%})"
                    for d, a, b, diff in self.mismatches[:10]
                )
            )
        if self.only_left:
            parts.append(f"dates only in {self.left}: {', '.join(map(str, self.only_left[:10]))}")
        if self.only_right:
            parts.append(f"dates only in {self.right}: {', '.join(map(str, self.only_right[:10]))}")
        return "; ".join(parts)


def _closes(frame: pd.DataFrame, index_id: str) -> pd.Series:
    if frame is None or frame.empty:
        return pd.Series(dtype="float64")
    rows = frame[frame["index_id"] == index_id] if "index_id" in frame.columns else frame
    return rows.groupby(pd.to_datetime(rows["trade_date"]).dt.date)["close"].last().sort_index()


def reconcile_closes(
    index_id: str,
    left: pd.DataFrame,
    right: pd.DataFrame,
    tolerance: float = DEFAULT_TOLERANCE,
    names: tuple[str, str] = ("akshare", "yfinance"),
) -> Reconciliation:
    """Compare one index's closes from two sources (frames with trade_date, close and optionally index_id).

    Dates are compared only where both sources have data (the overlap of their date ranges): inside it,
    a date present in one and missing in the other is a misalignment, and closes on common dates must agree
    within `tolerance` relative to the right-hand source.
    """
    a, b = _closes(left, index_id), _closes(right, index_id)
    out = Reconciliation(index_id, *names)
    if a.empty or b.empty:
        missing = [n for n, s in zip(names, (a, b)) if s.empty]
        out.problem = f"no closes from {' and '.join(missing)} to compare"
        return out
    lo, hi = max(a.index.min(), b.index.min()), min(a.index.max(), b.index.max())
    a, b = a[(a.index >= lo) & (a.index <= hi)], b[(b.index >= lo) & (b.index <= hi)]
    common = a.index.intersection(b.index)
    out.common_dates = len(common)
    out.only_left = sorted(set(a.index) - set(b.index))
    out.only_right = sorted(set(b.index) - set(a.index))
    if not len(common):
        out.problem = f"the sources share no trading date between {lo} and {hi}"
        return out
    diff = a[common] / b[common] - 1.0
    out.mismatches = [
        (d, float(a[d]), float(b[d]), float(diff[d])) for d in common if abs(diff[d]) > tolerance
    ]
    return out


def build_source_reconciliation_check(
    *,
    provider_key: str = "provider",
    index_ids: Sequence[str] | None = None,
    lookback_days: int = 30,
    tolerance: float = DEFAULT_TOLERANCE,
    partitions_def: PartitionsDefinition | None = None,
    severity: AssetCheckSeverity = AssetCheckSeverity.WARN,
) -> AssetChecksDefinition:
    """An asset check on raw.index_prices that fetches `index_ids` from akshare and from yfinance over the
    `lookback_days` ending at the partition's last day (or today) and compares them.

    The resource under `provider_key` must offer index_prices_by_source() (the LiveProvider); with any
    other provider (snapshot mode) there is a single source, and the check passes, saying it was skipped.
    Default `index_ids`: the indices whose constituents are loaded (the China tech indices).
    """
    index_ids = list(index_ids or constituent_counts())

    @asset_check(
        asset=RAW_INDEX_PRICES,
        name="index_closes_agree_across_sources",
        description=f"{', '.join(index_ids)} closes from akshare and yfinance agree within {tolerance:.1%} "
        "on common exchange-local dates, and neither source has dates the other lacks.",
        required_resource_keys={provider_key},
        partitions_def=partitions_def,
    )
    def _check(context: AssetCheckExecutionContext) -> AssetCheckResult:
        provider = getattr(context.resources, provider_key)
        if not hasattr(provider, "index_prices_by_source"):
            return AssetCheckResult(
                passed=True,
                metadata={
                    "skipped": f"the {provider.source_name} provider has a single source; this check runs in live mode"
                },
            )
        if context.has_partition_key or context.has_partition_key_range:
            end = (context.partition_time_window.end - timedelta(days=1)).date()
        else:
            end = date.today()
        start = end - timedelta(days=lookback_days)
        by_source = provider.index_prices_by_source(list(index_ids), start, end)
        left, right = (by_source.get(n) for n in ("akshare", "yfinance"))
        reports = []
        for index_id in index_ids:
            report = reconcile_closes(
                index_id, left.frame if left else None, right.frame if right else None, tolerance
            )
            for name, result in (("akshare", left), ("yfinance", right)):
                if result is not None and index_id in result.failures and report.problem:
                    report.problem += f"; {name}: {result.failures[index_id]}"
            reports.append(report)
        metadata = {
            "window": f"{start}..{end}",
            "tolerance": tolerance,
            "summary": MetadataValue.md(
                "\n".join(f"- {'OK' if r.passed else 'FAIL'} {r.summary()}" for r in reports)
            ),
            "mismatched_indices": [r.index_id for r in reports if not r.passed],
        }
        for r in reports:
            metadata[f"{r.index_id}_mismatches"] = MetadataValue.json(
                [
                    {"date": str(d), "akshare": x, "yfinance": y, "diff_pct": round(100 * z, 3)}
                    for d, x, y, z in r.mismatches
                ]
            )
        return AssetCheckResult(passed=all(r.passed for r in reports), severity=severity, metadata=metadata)

    return _check
