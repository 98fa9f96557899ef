from datetime import date
from pathlib import Path

import pytest

from orchestration.datasets import FX_RATES, INDEX_CONSTITUENTS, INDEX_PRICES, STOCK_PRICES
from orchestration.resources.providers.snapshot import (
    SnapshotProvider,
    SnapshotValidationError,
    read_snapshot_file,
)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("dataset", "text", "expected"),
    [
        (
            STOCK_PRICES,
            "symbol,trade_date,close\nNVDA,2024-01-02,10\n",
            "line 1: missing required column(s) currency",
        ),
        (
            STOCK_PRICES,
            "symbol,trade_date,close,currency\nNVDA,2024-01-02,10,USD\nNVDA,2024-01-03,abc,USD\n",
            "line 3, column 'close' (symbol NVDA): not a number (value 'abc')",
        ),
        (
            STOCK_PRICES,
            "symbol,trade_date,close,currency\n0700.HK,2024-01-02,0,HKD\n",
            "line 2, column 'close' (symbol 0700.HK): must be greater than zero",
        ),
        (
            STOCK_PRICES,
            "symbol,trade_date,close,currency\n0700.HK,2024-01-02,-5,HKD\n",
            "line 2, column 'close' (symbol 0700.HK): must be greater than zero (value '-5')",
        ),
        (
            STOCK_PRICES,
            "symbol,trade_date,close,currency\n688256.SS,2024-01-02,10,RMB\n",
            "line 2, column 'currency' (symbol 688256.SS): unknown ISO 4217 currency (value 'RMB')",
        ),
        (
            INDEX_PRICES,
            "index_id,trade_date,close\nSTAR50,2024-01-02,900\nSTAR50,02/01/2024,901\n",
            "line 3, column 'trade_date' (index_id STAR50): not a date (YYYY-MM-DD) (value '02/01/2024')",
        ),
        (
            INDEX_PRICES,
            "index_id,trade_date,close\nSTAR50,2024-02-30,900\n",
            "line 2, column 'trade_date' (index_id STAR50): not a date",
        ),
        (
            FX_RATES,
            "currency,trade_date,usd_per_unit\nCNY,2024-01-02,\n",
            "line 2, column 'usd_per_unit' (currency CNY): required value is empty",
        ),
        (
            INDEX_PRICES,
            "index_id,trade_date,close\nNDX,2024-01-02,1\nSTAR50,2024-01-02,2\nNDX,2024-01-02,3\n",
            (
                "duplicate key (index_id, trade_date) in 1 case(s); nothing was loaded:\n"
                "  {'index_id': 'NDX', 'trade_date': datetime.date(2024, 1, 2)} on lines 2, 4"
            ),
        ),
        (
            INDEX_CONSTITUENTS,
            "index_id,symbol,as_of_date,weight\nSTAR50,688256.SS,2024-01-02,two\n",
            "line 2, column 'weight' (index_id STAR50): not a number (value 'two')",
        ),
    ],
)
def test_bad_input_names_file_line_and_column(tmp_path, dataset, text, expected):
    path = write(tmp_path, dataset.file_name, text)
    with pytest.raises(SnapshotValidationError) as excinfo:
        read_snapshot_file(path, dataset)
    message = str(excinfo.value)
    assert str(path) in message
    assert expected in message


def test_every_problem_is_counted_not_just_the_first(tmp_path):
    rows = "".join(f"NVDA,2024-01-{d:02d},x,USD\n" for d in range(2, 22))
    path = write(tmp_path, "stock_prices.csv", "symbol,trade_date,close,currency\n" + rows)
    with pytest.raises(SnapshotValidationError, match=r"20 invalid value\(s\)[\s\S]*and 10 more"):
        read_snapshot_file(path, STOCK_PRICES)


def test_extra_columns_are_ignored_and_optional_columns_may_be_missing(tmp_path):
    write(tmp_path, "index_prices.csv", "note,index_id,trade_date,close\nhi,star50,2024-01-02,900.5\n")
    frame = read_snapshot_file(tmp_path / "index_prices.csv", INDEX_PRICES)
    assert list(frame.columns) == INDEX_PRICES.column_names
    assert frame.iloc[0]["index_id"] == "STAR50"
    assert frame.iloc[0]["trade_date"] == date(2024, 1, 2)
    assert frame.iloc[0]["close"] == 900.5
    assert frame["open"].isna().all()


def test_provider_selects_window_and_reports_absent_ids_and_files(tmp_path):
    write(
        tmp_path,
        "index_prices.csv",
        "index_id,trade_date,close\nSTAR50,2024-01-02,900\nSTAR50,2024-01-03,910\nNDX,2024-01-03,16000\n",
    )
    provider = SnapshotProvider(snapshot_dir=str(tmp_path))
    result = provider.index_prices(["STAR50", "NDX", "HSI"], date(2024, 1, 3), date(2024, 1, 3))
    assert sorted(zip(result.frame.index_id, result.frame.close)) == [("NDX", 16000.0), ("STAR50", 910.0)]
    assert set(result.failures) == {"HSI"}
    assert provider.date_range() == (date(2024, 1, 2), date(2024, 1, 3))

    missing_file = provider.fx_rates(["CNY"], date(2024, 1, 1), date(2024, 1, 5))
    assert missing_file.frame.empty
    assert "fx_rates.csv does not exist" in missing_file.failures["CNY"]
