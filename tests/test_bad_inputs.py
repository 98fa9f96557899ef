"""Bad snapshot input against a warehouse that already holds a good build: each case says what is
wrong in one clear line, and the warehouse and its published copy keep exactly what they had."""

import hashlib
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from dagster import AssetKey, instance_for_test

from orchestration.definitions import build_definitions
from orchestration.resources.warehouse import published_path_for
from orchestration.settings import Settings
from tests.conftest import run_range
from tests.sample_slice import SLICE_END, SLICE_START, sample_warehouse

START, END = SLICE_START, SLICE_END
STOCK_PRICES_KEY = AssetKey(["raw", "stock_prices"])

pytestmark = pytest.mark.integration


def fingerprint(database: Path) -> dict[str, int]:
    """Every raw and mart table, rows and a content hash (loaded_at included: a rewrite changes it)."""
    with duckdb.connect(str(database), read_only=True) as conn:
        tables = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
            " where table_schema in ('raw', 'marts') and table_type = 'BASE TABLE' order by 1"
        ).fetchall()
        return {
            t: conn.execute(f"select count(*), coalesce(sum(hash(x)), 0) from {t} as x").fetchone()
            for (t,) in tables
        }


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A copy of the session's shared build and its published copy: the cases that load write their
    own `source` into raw, which other tests of the shared build must not see."""
    shared = sample_warehouse(tmp_path_factory)
    assert shared.first_run_success
    root = tmp_path_factory.mktemp("bad_inputs")
    database = root / "warehouse" / shared.database.name
    database.parent.mkdir()
    shutil.copy(shared.database, database)
    published_path_for(database).parent.mkdir()
    shutil.copy(shared.published, published_path_for(database))
    env = {k: v for k, v in shared.env.items() if k != "DAGSTER_HOME"}
    env["DUCKDB_DATABASE"] = str(database)
    env["CTR_REPORTS_DIR"] = str(root / "reports")
    return root, Path(shared.env["CTR_SNAPSHOT_DIR"]), env


def run_stock_prices(built, tmp_path, edit):
    """Load raw/stock_prices from a copy of the good folder with `edit` applied to its stock_prices.csv."""
    _root, good, env = built
    folder = tmp_path / "edited"
    shutil.copytree(good, folder)
    prices = pd.read_csv(folder / "stock_prices.csv", dtype=str, keep_default_na=False)
    edit(prices).to_csv(folder / "stock_prices.csv", index=False)
    database = Path(env["DUCKDB_DATABASE"])
    before = fingerprint(database), file_hash(published_path_for(database))
    with pytest.MonkeyPatch.context() as mp, instance_for_test() as instance:
        for k, v in {**env, "CTR_SNAPSHOT_DIR": str(folder)}.items():
            mp.setenv(k, v)
        result = run_range(build_definitions(Settings()), instance, START.isoformat(), END.isoformat(), [STOCK_PRICES_KEY])
        logs = [r.user_message for r in instance.all_logs(result.run_id)]
    after = fingerprint(database), file_hash(published_path_for(database))
    return result, logs, before, after


def failure_text(result) -> str:
    """The step failures' messages, with their causes (Dagster wraps the raised error)."""
    messages = []
    for event in result.all_events:
        error = event.event_specific_data.error if event.is_step_failure else None
        while error is not None:
            messages.append(error.message)
            error = error.cause
    return "\n".join(messages)


@pytest.mark.parametrize(("value", "expected"), [("inf", "value 'inf'"), ("1e308", "value '1e308'")])
def test_a_non_finite_or_overflowing_close_is_rejected_naming_file_line_and_symbol(built, tmp_path, value, expected):
    def edit(prices):
        prices.loc[3, "close"] = value
        return prices

    result, _, before, after = run_stock_prices(built, tmp_path, edit)
    assert not result.success
    message = failure_text(result)
    assert "stock_prices.csv, line 5, column 'close'" in message and expected in message
    assert "not a finite number" in message
    assert after == before


def test_a_price_labelled_in_another_currency_than_its_listing_is_rejected(built, tmp_path):
    def edit(prices):
        row = prices.index[prices.symbol == "688256.SS"][2]
        prices.loc[row, "currency"] = "USD"
        return prices

    result, _, before, after = run_stock_prices(built, tmp_path, edit)
    assert not result.success
    message = failure_text(result)
    assert "688256.SS" in message and "priced in USD but its listing is configured in CNY" in message
    assert "nothing was written" in message
    assert after == before


def test_a_header_only_file_keeps_every_row_and_says_so_in_one_line(built, tmp_path):
    result, logs, before, after = run_stock_prices(built, tmp_path, lambda prices: prices.iloc[0:0])
    assert result.success
    lines = [m for m in logs if "holds a header and no rows" in m]
    assert len(lines) == 1
    assert "their rows in raw.stock_prices are kept as they were" in lines[0]
    assert after[1] == before[1]
    assert after[0]["raw.stock_prices"] == before[0]["raw.stock_prices"]


def test_symbols_missing_from_the_seeds_are_ignored_with_one_line(built, tmp_path):
    def edit(prices):
        extra = prices.iloc[:2].assign(symbol="ZZZZ")
        return pd.concat([prices, extra], ignore_index=True)

    result, logs, before, after = run_stock_prices(built, tmp_path, edit)
    assert result.success
    lines = [m for m in logs if "not configured and were ignored: ZZZZ" in m]
    assert len(lines) == 1
    with duckdb.connect(str(built[2]["DUCKDB_DATABASE"]), read_only=True) as conn:
        assert conn.execute("select count(*) from raw.stock_prices where symbol = 'ZZZZ'").fetchone()[0] == 0
    # The known symbols were reloaded with the same values: only loaded_at moved.
    assert after[0]["raw.stock_prices"][0] == before[0]["raw.stock_prices"][0]
    assert after[1] == before[1]
