"""Own data, cleanly: a snapshot folder other than the one a warehouse was built from never mixes into it
silently (the run refuses in one line naming both and how to start fresh), and the report's label
follows the data's real source."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import duckdb
import pytest

from orchestration import provenance
from orchestration.settings import PROJECT_ROOT
from tests.sample_slice import SLICE_START, sample_warehouse, write_slice

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    warehouse = sample_warehouse(tmp_path_factory)
    assert warehouse.first_run_success
    return warehouse


def demo(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestration.cli", "demo"], check=False, cwd=PROJECT_ROOT,
                          env=env,
                          capture_output=True, text=True, timeout=600)


def raw_sources(database) -> set[str]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return {r[0] for r in conn.execute(
            "select source from raw.index_prices union select source from raw.fx_rates"
            " union select source from raw.stock_prices").fetchall()}


@pytest.fixture(scope="module")
def two_file_export(tmp_path_factory):
    # A user's export holding only index prices and FX rates (the slice's dates).
    return write_slice(tmp_path_factory.mktemp("own") / "my_export", files={"index_prices", "fx_rates"})


def test_another_folder_on_the_sample_warehouse_is_refused_in_one_line(sample, two_file_export, tmp_path):
    database = tmp_path / "warehouse" / sample.database.name
    database.parent.mkdir()
    shutil.copy(sample.database, database)
    home = tmp_path / "home"
    env = {**os.environ, **sample.env, "DUCKDB_DATABASE": str(database),
           "CTR_SNAPSHOT_DIR": str(two_file_export), "DAGSTER_HOME": str(home)}
    before = raw_sources(database)
    result = demo(env)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(database) in lines[0] and str(two_file_export) in lines[0] and "snapshot:sample_slice" in lines[0]
    assert "make clean-warehouse" in lines[0] and "DUCKDB_DATABASE" in lines[0]
    # Nothing was loaded: the warehouse holds the sample slice's rows only.
    assert raw_sources(database) == before == {"snapshot:sample_slice"}


def test_a_fresh_warehouse_takes_the_export_labels_it_and_refuses_the_sample_next(sample, two_file_export, tmp_path):
    database = tmp_path / "own" / "china_tech_rally.duckdb"
    env = {**os.environ, **sample.env, "DUCKDB_DATABASE": str(database),
           "CTR_SNAPSHOT_DIR": str(two_file_export), "CTR_START_DATE": SLICE_START.isoformat(),
           "DAGSTER_HOME": str(tmp_path / "home")}
    result = demo(env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert provenance.recorded_source(database) == str(two_file_export.resolve())
    assert raw_sources(database) == {"snapshot:my_export"}
    with duckdb.connect(str(database), read_only=True) as conn:
        labels = {r[0] for r in conn.execute("select data_label from marts.rpt_headline").fetchall()}
    assert labels == {"snapshot:my_export"}
    report = (database.parent / "reports" / "headline.md").read_text()
    assert "synthetic sample" not in report and "Data: snapshot:my_export." in report
    assert "synthetic sample" not in result.stdout

    # The bundled sample (or any other folder) into it next: refused by the record, in one line.
    again = demo({**env, "CTR_SNAPSHOT_DIR": str(PROJECT_ROOT / "sample_data")})
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [again.stderr.strip()]
    assert "the bundled synthetic sample (sample_data/)" in again.stderr and str(two_file_export.resolve()) in again.stderr
    assert raw_sources(database) == {"snapshot:my_export"}
