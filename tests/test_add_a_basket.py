"""Adding a basket is seed rows only: a temporary copy of the dbt project gains US_AI (five US members
moved out of the comparison set, compared with CN_AI) and builds the marts with no code change."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.settings import DBT_PROJECT_DIR
from tests.sample_slice import sample_warehouse

US_AI = ["NVDA", "AMD", "AVGO", "MSFT", "GOOGL"]

pytestmark = pytest.mark.integration


def add_us_ai(project: Path) -> None:
    seeds = project / "seeds"
    members = pd.read_csv(seeds / "ai_basket_members.csv", dtype=str, keep_default_na=False)
    moved = members["symbol"].isin(US_AI) & (members["basket_id"] == "GLOBAL_AI_EX_CN")
    assert moved.sum() == len(US_AI)
    members.loc[moved, "basket_id"] = "US_AI"
    members.to_csv(seeds / "ai_basket_members.csv", index=False)
    with (seeds / "baskets.csv").open("a") as baskets:
        baskets.write("US_AI,Five US AI leaders,CN_AI,false\n")


@pytest.fixture(scope="module")
def built_with_us_ai(tmp_path_factory):
    shared = sample_warehouse(tmp_path_factory)
    root = tmp_path_factory.mktemp("add_a_basket")
    project = root / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "*.duckdb"))
    add_us_ai(project)
    database = root / shared.database.name
    shutil.copy(shared.database, database)
    env = {**os.environ, "DUCKDB_DATABASE": str(database)}
    dbt = str(Path(sys.executable).parent / "dbt")
    result = subprocess.run([dbt, "build", "--profiles-dir", ".", "--full-refresh"], cwd=project, env=env,
                            capture_output=True, text=True, check=False)
    return database, shared.database, result


def test_the_marts_build_with_a_third_basket(built_with_us_ai):
    _, _, result = built_with_us_ai
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_new_basket_has_its_market_cap_and_its_comparison(built_with_us_ai):
    database, _, _ = built_with_us_ai
    with duckdb.connect(str(database), read_only=True) as conn:
        members = conn.execute("select max(members) from marts.fct_ai_basket_market_cap where basket_id = 'US_AI'")
        assert members.fetchone() == (len(US_AI),)
        # Recomputed from the member rows: the basket is the sum of its five members.
        mismatched = conn.execute("""
            select count(*) from marts.fct_ai_basket_market_cap as b
            join (select trade_date, sum(market_cap_usd) as total from marts.fct_ai_basket_members_daily
                  where basket_id = 'US_AI' group by 1) as m using (trade_date)
            where b.basket_id = 'US_AI' and abs(b.market_cap_usd - m.total) > 1e-6 * m.total""").fetchone()
        assert mismatched == (0,)
        pairs = conn.execute("""select basket_id, compared_with, count(*) from marts.fct_ai_basket_comparison
                                group by all order by all""").fetchall()
        assert [p[:2] for p in pairs] == [("CN_AI", "GLOBAL_AI_EX_CN"), ("US_AI", "CN_AI")]
        ratio_ok = conn.execute("""
            select bool_and(abs(ratio - market_cap_usd / compared_market_cap_usd) < 1e-12)
            from marts.fct_ai_basket_comparison where basket_id = 'US_AI'""").fetchone()[0]
        assert ratio_ok


def test_the_contract_ratio_stays_the_headline_pair(built_with_us_ai):
    database, original, _ = built_with_us_ai
    with duckdb.connect(str(database), read_only=True) as conn:
        ratio = conn.execute("select count(*), count(distinct trade_date) from marts.fct_ai_market_cap_ratio")
        rows, dates = ratio.fetchone()
        peer = conn.execute("""select peer_market_cap_usd from marts.fct_ai_market_cap_ratio
                               order by trade_date desc limit 1""").fetchone()[0]
    with duckdb.connect(str(original), read_only=True) as conn:
        before = conn.execute("""select peer_market_cap_usd from marts.fct_ai_market_cap_ratio
                                 order by trade_date desc limit 1""").fetchone()[0]
    assert rows == dates > 0
    # The peer set lost five members to US_AI, so it is smaller; still one row per date.
    assert peer < before
