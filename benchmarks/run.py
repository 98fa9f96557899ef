"""Ingestion scaling benchmark: snapshot validation and the raw write, at 1x and 10x the symbols.

Reports per-row cost ratios measured in one run on this machine (10x vs 1x), not wall-clock promises:
a ratio near 1.0 means the path scales linearly. Not part of the test suite; `make bench` runs it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

from orchestration.datasets import STOCK_PRICES
from orchestration.resources.providers.snapshot import SnapshotProvider
from orchestration.resources.warehouse import DuckDBFileWarehouse
from orchestration.sample import generate_sample


def measure(root: Path, extra_symbols: int, start: date, end: date) -> dict[str, float]:
    folder = root / f"snapshot_{extra_symbols}"
    generate_sample(folder, start=start, end=end, extra_symbols=extra_symbols)
    provider = SnapshotProvider(snapshot_dir=str(folder))

    began = time.perf_counter()
    frame = provider.load(STOCK_PRICES)
    validated = time.perf_counter() - began

    symbols = sorted(frame["symbol"].unique())
    result = provider.stock_prices(symbols, start, end)
    warehouse = DuckDBFileWarehouse(database=str(root / f"bench_{extra_symbols}.duckdb"))
    began = time.perf_counter()
    warehouse.replace_window(result, symbols, start, end, loaded_at=datetime(2026, 1, 1))
    written = time.perf_counter() - began
    rows = len(frame)
    return {"rows": rows, "validate_us_per_row": 1e6 * validated / rows, "write_us_per_row": 1e6 * written / rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-symbols", type=int, default=1_000, help="extra synthetic symbols at 1x")
    parser.add_argument("--factor", type=int, default=10)
    args = parser.parse_args()
    start, end = date(2025, 1, 2), date(2025, 12, 31)
    with tempfile.TemporaryDirectory() as tmp:
        small = measure(Path(tmp), args.base_symbols, start, end)
        large = measure(Path(tmp), args.base_symbols * args.factor, start, end)
    print(f"stock_prices rows: {small['rows']:,} (1x) vs {large['rows']:,} ({args.factor}x)")
    for key in ("validate_us_per_row", "write_us_per_row"):
        print(f"{key:<22} 1x {small[key]:8.3f}  {args.factor}x {large[key]:8.3f}  ratio {large[key] / small[key]:.2f}")


if __name__ == "__main__":
    main()
