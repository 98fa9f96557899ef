# The two commands a newcomer needs: `make demo` and `make test`. Everything else supports them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export DO_NOT_TRACK := 1

UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
VENV := .venv
PY := $(VENV)/bin/python
MANIFEST := dbt_project/target/manifest.json
CHROMIUM := /usr/bin/chromium

.PHONY: help setup demo run headline release test ui validate manifest clean clean-warehouse export docs bench chromium postgres postgres-stop demo-lake

help:
	@echo "make demo   set up, then materialise everything on the bundled sample (or CTR_SNAPSHOT_DIR)"
	@echo "make test   set up, then run the whole test suite"
	@echo "make ui     open the Dagster UI on http://127.0.0.1:3000"
	@echo "make run    materialise from the live sources (akshare + yfinance; needs internet)"
	@echo "make headline  print the headline report of the last run"
	@echo "make release   show a build the audits held back; RUN=<id> NOTE=... publishes it (docs/data-quality.md)"
	@echo "make export    every mart as Parquet + CSV with manifest.json, into warehouse/export/"
	@echo "make docs      build and serve the dbt docs site on http://127.0.0.1:8080"
	@echo "make clean-warehouse  delete the warehouse, its reports and the run history; keep the environment"
	@echo "make demo-lake  the demo on DuckLake + a local PostgreSQL (docs/scale-out.md)"

$(VENV)/.synced: pyproject.toml uv.lock
	@echo "Setting up the Python environment in $(VENV)/ (uv sync, quiet; a minute on a first run)"
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	@# Compiled: where PYTHONDONTWRITEBYTECODE is set (CI), every dbt, Dagster and demo process would
	@# otherwise compile its imports from source again (about 6 s a process).
	@$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	@cp dagster.yaml $@

$(MANIFEST): $(VENV)/.synced $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.csv' | grep -v target/)
	@echo "Parsing the dbt project"
	@# With the settings' env (absolute DUCKDB_DATABASE, dbt target), as every run has: dbt keeps its parse cache.
	@PYTHONWARNINGS="ignore:Parameter \`backfill_policy\` of function" $(PY) -m orchestration.dbt_project

setup: $(VENV)/.synced $(DAGSTER_HOME)/dagster.yaml $(MANIFEST)

manifest: $(MANIFEST)

demo: setup
	@$(PY) -m orchestration.cli demo

run: setup
	@CTR_SOURCE=live $(PY) -m orchestration.cli run

# The headline report of the last run, from the published copy (no lock, even while a run writes).
headline: $(VENV)/.synced
	@$(PY) -m orchestration.cli headline

# A build the plausibility audits held back: without RUN, what is held back and why; with the held-back
# run's id (after checking its findings), publish it, logged with NOTE (docs/data-quality.md).
release: $(VENV)/.synced
	@$(PY) -m orchestration.release $(if $(RUN),--run '$(RUN)') $(if $(NOTE),--note '$(NOTE)')

# The tests' scratch warehouses and Dagster homes go to RAM (/dev/shm) when it has room: a run's SQLite
# event log commits a thousand times and DuckDB checkpoints on close, each an fsync on a disk (about a
# quarter of a run's time here). Elsewhere, or with TMPDIR set, the system's temporary folder.
TEST_TMPDIR ?= $(shell [ -z "$$TMPDIR" ] && [ -d /dev/shm ] && [ -w /dev/shm ] && \
	[ "$$(df -Pk /dev/shm | awk 'NR==2 {print $$4}')" -gt 4000000 ] 2>/dev/null && echo /dev/shm/china-tech-rally-tests)

test: setup chromium
	@$(if $(TEST_TMPDIR),mkdir -p $(TEST_TMPDIR))
	$(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR) )$(VENV)/bin/pytest

# The browser test drives Debian's chromium through playwright, never a downloaded browser. Installing
# it needs root; without it the browser test skips locally and fails in CI (CI=true).
chromium:
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
		echo "note: $(CHROMIUM) is missing; as root: apt-get install chromium (the browser test skips without it)"; \
	fi

# dg (dagster-dg-cli) reads [tool.dg] in pyproject.toml: the same code location as `make ui`.
validate: setup
	@VIRTUAL_ENV=$(CURDIR)/$(VENV) $(VENV)/bin/dg check defs

# The CLI execs `dagster dev` from DAGSTER_HOME with SIGINT/SIGTERM restored: Ctrl-C and a SIGTERM to
# make (which make passes on) stop the UI and its processes, even when make was started in the background.
UI_PORT ?= 3000
ui: setup
	@exec $(PY) -m orchestration.cli ui --host 127.0.0.1 --port $(UI_PORT)


# Every mart of the published copy as Parquet and CSV, with manifest.json (orchestration/export.py).
export: $(VENV)/.synced
	@$(PY) -m orchestration.export

# dbt's docs site from the runs' own manifest and the warehouse's catalog (orchestration/dbt_docs.py).
DOCS_PORT ?= 8080
docs: setup
	@exec $(PY) -m orchestration.dbt_docs serve --host 127.0.0.1 --port $(DOCS_PORT)

# Start fresh on the data, not on the tools: the warehouse (DUCKDB_DATABASE's folder contents for the
# default one: the file, its published copy, export, snapshot records), the reports and the run history.
clean-warehouse:
	rm -rf warehouse reports/*.md reports/*.png $(DAGSTER_HOME)

clean:
	rm -rf $(VENV) $(DAGSTER_HOME) dbt_project/target dbt_project/logs warehouse

# The project's full build and a one-day run against plain DuckDB on ~19M price rows, in one run (not part
# of `make test`; docs/operations.md, "Benchmark"). BENCH_SCALE=0.1 / BENCH_YEARS=3 for a smaller one.
bench: setup
	$(PY) -m benchmarks.scale

# Past one machine (docs/scale-out.md): a local PostgreSQL (.postgres/, 127.0.0.1:54329; as root it
# installs Debian's postgresql when missing) holding the DuckLake catalog and the Dagster instance, the
# lake's Parquet files in warehouse/lake/. `make postgres-stop` stops it.
LAKE_HOME := $(CURDIR)/.dagster_home_lake

postgres:
	@bash scripts/postgres.sh start

postgres-stop:
	@bash scripts/postgres.sh stop

# The whole graph on DuckLake, Dagster's runs and events in PostgreSQL; ends with the lake's row counts and
# how to query it.
demo-lake: setup postgres
	@eval "$$(bash scripts/postgres.sh env)" && export CTR_WAREHOUSE=ducklake DAGSTER_HOME=$(LAKE_HOME) && \
		$(PY) -m orchestration.instance $(LAKE_HOME) >/dev/null && \
		PYTHONWARNINGS="ignore:Parameter \`backfill_policy\` of function" $(PY) -m orchestration.dbt_project && \
		$(PY) -m orchestration.cli demo
