import re
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


# --- a file that grew: its appended rows are checked, not the whole file again --------------------

PRICES = "symbol,trade_date,close,currency\n" + "".join(
    f"{s},2024-01-0{d},{10 + d},{c}\n" for d in (2, 3, 4) for s, c in (("NVDA", "USD"), ("0700.HK", "HKD"))
)


def checked_in_new_process(provider: SnapshotProvider):
    # Another process: the in-process cache of checked files starts empty, the records on disk remain.
    from orchestration.resources.providers import snapshot

    snapshot._checked_unchanged.cache_clear()
    return provider.check(STOCK_PRICES)


@pytest.fixture
def growing(tmp_path):
    folder = tmp_path / "snap"
    folder.mkdir()
    path = write(folder, "stock_prices.csv", PRICES)
    provider = SnapshotProvider(snapshot_dir=str(folder), record_dir=str(tmp_path / "records"))
    assert checked_in_new_process(provider).appended is None
    return provider, path


def test_appended_rows_are_checked_alone_and_read_like_a_whole_check(growing):
    provider, path = growing
    with path.open("a") as f:
        f.write("NVDA,2024-01-05,15,USD\n9988.HK,2024-01-05,80,HKD\n")
    grown = checked_in_new_process(provider)
    assert grown.appended is not None and grown.appended.after == date(2024, 1, 4)
    whole = read_snapshot_file(path, STOCK_PRICES)
    assert (grown.ids, grown.first, grown.last) == ({"NVDA", "0700.HK", "9988.HK"}, date(2024, 1, 2), date(2024, 1, 5))
    for start in (date(2024, 1, 5), date(2024, 1, 3), None):
        expected = whole[whole.trade_date >= (start or date.min)].reset_index(drop=True)
        assert grown.rows(start).equals(expected)
    day = provider.stock_prices(["NVDA", "9988.HK"], date(2024, 1, 5), date(2024, 1, 5)).frame
    assert sorted(day.symbol) == ["9988.HK", "NVDA"] and sorted(day.close) == [15.0, 80.0]
    # Unchanged in the next process: not checked again, and the day's rows are still read from the
    # appended bytes alone.
    again = checked_in_new_process(provider)
    assert again.appended is not None and again.appended.after == date(2024, 1, 4)
    assert str(path) not in again.appended.typed_sql
    assert again.rows(date(2024, 1, 5)).equals(grown.rows(date(2024, 1, 5)))
    assert again.rows().equals(whole)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # an old row edited in place (same size): the whole file is checked, the edit is seen
        (lambda text: text.replace("NVDA,2024-01-02,12", "NVDA,2024-01-02,13"), None),
        # a bad appended row: reported at its line of the whole file
        (lambda text: text + "NVDA,2024-01-05,abc,USD\n", "line 8, column 'close' (symbol NVDA): not a number"),
        # an appended row repeating an old key
        (lambda text: text + "NVDA,2024-01-03,99,USD\n", "duplicate key (symbol, trade_date)"),
        # appended rows dated before the last date: may repeat an old key, so the whole file is checked
        (lambda text: text + "AAPL,2024-01-03,99,USD\n", None),
    ],
)
def test_a_file_that_did_not_only_grow_is_checked_whole(growing, change, expected):
    provider, path = growing
    path.write_text(change(path.read_text()))
    if expected:
        with pytest.raises(SnapshotValidationError, match=re.escape(expected)):
            checked_in_new_process(provider)
        return
    checked = checked_in_new_process(provider)
    assert checked.appended is None
    assert checked.rows().equals(read_snapshot_file(path, STOCK_PRICES))


def test_a_last_line_without_newline_is_not_taken_as_a_prefix(tmp_path):
    folder = tmp_path / "snap"
    folder.mkdir()
    text = "symbol,trade_date,currency,close\nNVDA,2024-01-02,USD,12\nNVDA,2024-01-03,USD,14"
    path = write(folder, "stock_prices.csv", text)
    provider = SnapshotProvider(snapshot_dir=str(folder), record_dir=str(tmp_path / "records"))
    checked_in_new_process(provider)
    # The last row's close grows from 14 to 145: the old bytes are a prefix, but not of whole lines.
    path.write_text(text + "5\nNVDA,2024-01-05,USD,15\n")
    checked = checked_in_new_process(provider)
    assert checked.appended is None and 145.0 in set(checked.rows().close)


def test_a_damaged_record_means_a_whole_check(growing, tmp_path):
    from orchestration.resources.providers import snapshot

    provider, path = growing
    for record in (tmp_path / "records").glob("*.json"):
        record.write_text(record.read_text().replace('"size"', '"sighs"'))
    with path.open("a") as f:
        f.write("NVDA,2024-01-05,15,USD\n")
    # The last date too is read from the whole file, not from the record.
    assert snapshot.snapshot_last_date(path.parent, tmp_path / "records") == date(2024, 1, 5)
    checked = checked_in_new_process(provider)
    assert checked.appended is None and checked.last == date(2024, 1, 5)


def test_the_last_date_is_read_once_per_file_version(tmp_path, monkeypatch):
    """The code location asks for it on every load: an unchanged file is not read again, a grown one is."""
    from orchestration.resources.providers import snapshot

    folder, records = tmp_path / "snap", tmp_path / "records"
    folder.mkdir()
    prices = folder / INDEX_PRICES.file_name
    # Sorted by id, as the sample is: the last line is not the last date.
    prices.write_text("index_id,trade_date,close\nNDX,2024-01-05,1\nSTAR50,2024-01-03,2\n")
    (folder / FX_RATES.file_name).write_text("currency,trade_date,usd_per_unit\nCNY,2024-01-04,0.14\n")
    assert snapshot.snapshot_last_date(folder, records) == date(2024, 1, 5)

    def no_scan(*args):
        raise AssertionError("an unchanged file was read again")

    with monkeypatch.context() as m:
        m.setattr(snapshot, "_scan_last_date", no_scan)
        assert snapshot.snapshot_last_date(folder, records) == date(2024, 1, 5)
    with prices.open("a") as f:
        f.write("STAR50,2024-01-08,3\n")
    assert snapshot.snapshot_last_date(folder, records) == date(2024, 1, 8)
    assert snapshot.snapshot_last_date(tmp_path / "empty") is None


def test_a_checked_file_that_grew_gives_its_last_date_from_the_appended_bytes(growing, tmp_path, monkeypatch):
    """The code location asks for the last date after every daily append: with the file's check record
    only the new bytes are read for dates; a file changed before its end is read whole."""
    from orchestration.resources.providers import snapshot

    provider, path = growing
    folder, records = path.parent, tmp_path / "records"
    scanned = []
    real_scan = snapshot._scan_last_date
    monkeypatch.setattr(snapshot, "_scan_last_date", lambda p, *a: scanned.append(p.stat().st_size) or real_scan(p, *a))
    original = path.read_text()
    with path.open("a") as f:
        f.write("NVDA,2024-01-08,15,USD\n")
    assert snapshot.snapshot_last_date(folder, records) == date(2024, 1, 8)
    assert scanned and scanned[0] < len(original)  # the header and the appended line only
    # An edit before the end (a later date in the middle): the record does not hold, the file is read whole.
    scanned.clear()
    path.write_text(original.replace("2024-01-02", "2024-02-01", 1) + "NVDA,2024-01-08,15,USD\n")
    assert snapshot.snapshot_last_date(folder, records) == date(2024, 2, 1)
    assert scanned == [path.stat().st_size]

