"""Scale benchmark: the project's full build and a one-day run against plain DuckDB, on ~20M price rows.

    make bench                       # 5,000 synthetic basket members x 15 years (~19M stock price rows)
    BENCH_SCALE=0.1 make bench       # a tenth of the symbols, to iterate (BENCH_YEARS=3: fewer years)

Measured in one run on this machine, reported as ratios (the machine is shared; absolute seconds move):
(a) the full build as `make demo` does it (ingest, dbt, checks, report, publication) in a fresh
process, (b) benchmarks/baseline.sql, the same marts as one DuckDB script over the same CSVs, the
engine's physical limit, (c) one more day appended to the snapshot, then the run of that day's
partition. Each is a separate process tree; its peak memory is the sum of the RSS of the tree, sampled.
Writes benchmarks/results/<date>.json. Not part of the test suite.

The synthetic symbols must be basket members, or ingestion ignores them and no mart grows. The
product's seeds stay as they are: the benchmark runs a copy of the project (code and dbt project) under
BENCH_DIR whose seed lists them, with the same Python environment.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import duckdb

from orchestration.datasets import DATASETS

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
FULL_SYMBOLS, YEARS = 5_000, 15
# A Friday on which every calendar of the sample trades: the day appended for the incremental run.
LAST_DAY = date(2026, 11, 20)
WARM_UP_DAY = date(2026, 11, 19)  # the session before LAST_DAY on every calendar of the sample
SUBSECTORS = ("cloud", "chip design", "chip equipment", "foundry", "memory", "networking", "data centres",
              "hardware", "AI apps")
PROJECT_PARTS = ("orchestration", "assets", "benchmarks", "dbt_project", "scripts", ".env", "dagster.yaml", "workspace.yaml",
                 "pyproject.toml")
STEP_LINE = re.compile(r"^  (\S+(?: build)?)\s{2,}(.*?)\s+(\d+\.\d)s$")
GIB = 1024**3
DUCKDB_MEMORY_LIMIT = "1GB"


# --- measuring ----------------------------------------------------------------------------------------


def _tree_rss(root: int) -> tuple[int, int]:
    """(sum, largest) RSS in bytes of `root` and all its descendants, from /proc."""
    parent, rss = {}, {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{entry}/statm", "rb") as f:
                resident = int(f.read().split()[1]) * page
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields after the last ')' are safe.
        parent[int(entry)] = int(stat[stat.rindex(b")") + 2:].split()[1])
        rss[int(entry)] = resident
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [p for p, pp in parent.items() if pp == pid and p not in tree]
        tree.update(children)
        frontier.extend(children)
    sizes = [rss.get(p, 0) for p in tree]
    return sum(sizes), max(sizes, default=0)


def measure(label: str, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict:
    """Run `args` to completion; wall time, peak tree RSS, and the step lines the CLI printed. A run that
    fails (among them one whose plausibility audits hold its build back: the synthetic prices are made
    to pass them) ends the bench, with its output."""
    print(f"[{label}] {' '.join(args[:4])} ...", flush=True)
    peak = {"sum": 0, "largest": 0}
    with log.open("w") as out:
        began = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                total, largest = _tree_rss(proc.pid)
                peak["sum"], peak["largest"] = max(peak["sum"], total), max(peak["largest"], largest)
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        seconds = time.perf_counter() - began
        done.set()
        sampler.join()
    text = log.read_text(errors="replace")
    if code != 0:
        sys.exit(f"[{label}] failed with exit code {code}; its output: {log}\n{text[-3000:]}")
    steps = {m[1]: float(m[3]) for line in text.splitlines() if (m := STEP_LINE.match(line))}
    print(f"[{label}] {seconds:.1f}s, peak RSS {peak['sum'] / GIB:.2f} GiB", flush=True)
    return {"seconds": round(seconds, 2), "peak_rss_gib": round(peak["sum"] / GIB, 3),
            "peak_rss_largest_process_gib": round(peak["largest"] / GIB, 3), "steps_s": steps, "log": str(log)}


# --- inputs -------------------------------------------------------------------------------------------


def generate(folder: Path, symbols: int, start: date) -> None:
    """The seeded sample plus `symbols` synthetic stocks, generated once per (symbols, years)."""
    marker = folder / ".complete"
    if marker.exists():
        return
    from orchestration import sample

    began = time.perf_counter()
    # Hang Seng TECH has existed since July 2020; before spring 2021 the seeds list too few Hong Kong
    # members to fill its 30 names, and the generator refuses rather than invent them.
    counts = sample.generate_sample(folder, start=start, end=LAST_DAY, extra_symbols=symbols,
                                    constituents_from=date(2021, 4, 1))
    print(f"[generate] {counts} in {time.perf_counter() - began:.0f}s", flush=True)
    marker.write_text(json.dumps(counts))


def cut_from(generated: Path, snapshot: Path, day: date) -> None:
    """The snapshot the project reads first: every generated row dated before `day`."""
    snapshot.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        for d in DATASETS:
            con.execute(
                f"copy (select * from read_csv('{generated / d.file_name}', header = true, all_varchar = true)"
                f" where {d.date_column} < '{day}') to '{snapshot / d.file_name}' (header, delimiter ',')"
            )


def append_day(generated: Path, snapshot: Path, day: date) -> None:
    """What a daily export that appends does: the rows of `day` written at the end of each file."""
    with duckdb.connect() as con:
        for d in DATASETS:
            rows = snapshot / f"{d.file_name}.day"
            con.execute(
                f"copy (select * from read_csv('{generated / d.file_name}', header = true, all_varchar = true)"
                f" where {d.date_column} = '{day}') to '{rows}' (header false, delimiter ',')"
            )
            with (snapshot / d.file_name).open("ab") as out:
                out.write(rows.read_bytes())
            rows.unlink()


def daily_runs(label: str, run: dict) -> dict:
    """The day before LAST_DAY appended and its run (not timed: the steady state of a daily schedule,
    whose runs follow runs, not a full build), then LAST_DAY appended and its run, timed."""
    append_day(run["generated"], run["snapshot"], WARM_UP_DAY)
    measure_dbt(f"{label} (warm-up day)", [PY, "-m", "benchmarks.scale", "window", WARM_UP_DAY.isoformat()],
                run["project"], run["env"], run["logs"] / "warm-up.log")
    append_day(run["generated"], run["snapshot"], LAST_DAY)
    return measure_dbt(label, [PY, "-m", "benchmarks.scale", "window", LAST_DAY.isoformat()], run["project"],
                       run["env"], run["logs"] / "incremental.log")


def project_copy(dest: Path, symbols: int, start: date) -> Path:
    """The project with the synthetic symbols as basket members (CN_AI in Asia, the peers in New York)."""
    from orchestration.sample import extra_stocks

    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    skip = shutil.ignore_patterns("target", "logs", "__pycache__", "results", ".user.yml")
    for part in PROJECT_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=skip)
        else:
            shutil.copyfile(src, dest / part)
    seed = dest / "dbt_project" / "seeds" / "ai_basket_members.csv"
    with seed.open("a", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        for i, stock in enumerate(extra_stocks(symbols)):
            basket = "GLOBAL_AI_EX_CN" if stock.currency == "USD" else "CN_AI"
            writer.writerow([basket, stock.symbol, f"Synthetic {stock.symbol}", SUBSECTORS[i % len(SUBSECTORS)],
                             stock.currency, stock.calendar, start.isoformat()])
    return dest


def rows_in(snapshot: Path) -> dict[str, int]:
    with duckdb.connect() as con:
        return {d.name: con.execute(f"select count(*) from read_csv('{snapshot / d.file_name}', header = true,"
                                    " all_varchar = true)").fetchone()[0] for d in DATASETS}


# --- the runs -----------------------------------------------------------------------------------------


def compare_marts(project_db: Path, baseline_db: Path) -> dict[str, dict]:
    """Row counts of each mart the baseline builds in both, and the rows of the project's missing from the baseline
    (on keys and values rounded to 9 significant digits: summation order differs)."""
    keys = {
        "fct_index_returns": "index_id, trade_date, round(close, 6), round(mtd_return, 9), round(trailing_1y_return, 9)",
        "fct_relative_performance": "index_id, benchmark_id, trade_date, period, round(excess_return, 9)",
        "fct_ai_basket_members_daily": "basket_id, symbol, trade_date, round(market_cap_usd, 0)",
        "fct_ai_basket_market_cap": "basket_id, trade_date, members, members_priced, round(change_1y_pct, 6)",
        "fct_ai_market_cap_ratio": "trade_date, round(cn_to_peer_ratio, 9)",
        "dim_index": "index_id, first_trade_date, last_trade_date, trading_days",
        "dim_security": "symbol, basket_id, currency, constituent_index_ids, first_trade_date, last_trade_date",
        "fct_security_returns": "symbol, basket_id, trade_date, currency, round(close_usd, 6), round(return_1m, 9),"
                                " round(return_ytd, 9), round(return_1y, 9), round(return_6m_usd, 9)",
        "fct_ai_basket_member_contribution": "basket_id, symbol, subsector, period, trade_date, base_date,"
                                             " round(change_usd, 0), contribution_rank",
        "fct_ai_basket_subsector_contribution": "basket_id, subsector, period, trade_date, base_date, members,"
                                                " contribution_rank",
    }
    out = {}
    with duckdb.connect() as con:
        con.execute(f"attach '{project_db}' as project (read_only)")
        con.execute(f"attach '{baseline_db}' as baseline (read_only)")
        for mart, cols in keys.items():
            n_project = con.execute(f"select count(*) from project.marts.{mart}").fetchone()[0]
            n_baseline = con.execute(f"select count(*) from baseline.marts.{mart}").fetchone()[0]
            differ = con.execute(
                f"select count(*) from (select {cols} from project.marts.{mart}"
                f" except all select {cols} from baseline.marts.{mart})"
            ).fetchone()[0]
            out[mart] = {"project": n_project, "baseline": n_baseline, "project_rows_not_in_baseline": differ}
    return out


def run_baseline(snapshot: Path, seeds: Path, start: date, database: Path) -> None:
    """Subcommand: the baseline script in this process (measured from outside, like the project)."""
    database.unlink(missing_ok=True)
    sql = (HERE / "baseline.sql").read_text()
    sql = sql.replace("{snapshot}", str(snapshot)).replace("{seeds}", str(seeds)).replace("{start}", start.isoformat())
    config = {}
    if os.environ.get("CTR_DUCKDB_MEMORY_LIMIT"):
        config["memory_limit"] = os.environ["CTR_DUCKDB_MEMORY_LIMIT"]
    if os.environ.get("CTR_DUCKDB_THREADS"):
        config["threads"] = int(os.environ["CTR_DUCKDB_THREADS"])
    with duckdb.connect(str(database), config=config) as con:
        con.execute(sql)


def run_window(day: date) -> int:
    """Subcommand: the run a schedule tick makes for one day's partition, through the CLI's runner."""
    from orchestration.cli import ensure_dagster_home, materialize_range
    from orchestration.settings import get_settings

    ensure_dagster_home()
    os.environ.setdefault("DBT_USE_COLORS", "false")
    return 0 if materialize_range(get_settings(), day, day) else 1


def dbt_node_seconds(project: Path, since: float, top: int = 12) -> dict[str, float]:
    """The slowest dbt nodes (models and tests) of the last dbt invocation after `since`, from its
    run_results.json (dagster-dbt writes one target folder per invocation)."""
    target = project / "dbt_project" / "target"
    results = [p for p in target.rglob("run_results.json") if p.stat().st_mtime >= since]
    if not results:
        return {}
    data = json.loads(max(results, key=lambda p: p.stat().st_mtime).read_text())
    nodes = sorted(((r["unique_id"], r.get("execution_time") or 0.0) for r in data.get("results", [])),
                   key=lambda kv: -kv[1])
    out = {uid.split(".", 1)[1] if "." in uid else uid: round(t, 2) for uid, t in nodes[:top]}
    kinds: dict[str, float] = {}
    for uid, t in nodes:
        kind = uid.split(".", 1)[0]
        kinds[kind] = kinds.get(kind, 0.0) + t
    out.update({f"all {kind}s": round(t, 1) for kind, t in kinds.items()})
    return out


def measure_dbt(label: str, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict:
    """measure() and the dbt step's slowest nodes."""
    since = time.time()
    result = measure(label, args, cwd, env, log)
    result["dbt_nodes_s"] = dbt_node_seconds(cwd, since)
    return result


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_ui(project: Path, env: dict[str, str], log: Path, timeout: float = 180) -> dict:
    """`make ui` to its first page: seconds from the start of `orchestration.cli ui` until the web server
    answers and the code location has loaded (what a user waits for before the asset graph shows)."""
    import signal
    import urllib.request

    port = free_port()
    query = json.dumps({"query": "{ workspaceOrError { __typename ... on Workspace"
                                 " { locationEntries { name loadStatus } } } }"}).encode()
    print(f"[ui] orchestration.cli ui on port {port} ...", flush=True)
    with log.open("w") as out:
        began = time.perf_counter()
        proc = subprocess.Popen([PY, "-m", "orchestration.cli", "ui", "--host", "127.0.0.1", "--port", str(port)],
                                cwd=project, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        seconds = None
        try:
            while time.perf_counter() - began < timeout and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                        page.read()
                    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=query,
                                                     headers={"Content-Type": "application/json"})
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        entries = json.loads(answer.read())["data"]["workspaceOrError"]["locationEntries"]
                    if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                        seconds = time.perf_counter() - began
                        break
                except (OSError, KeyError, TypeError, ValueError):
                    pass
                time.sleep(0.25)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    print(f"[ui] first page after {seconds if seconds is None else round(seconds, 1)}s", flush=True)
    return {"seconds": None if seconds is None else round(seconds, 2), "log": str(log)}


PG_PORT = "54339"  # beside the project's own local cluster (54329) and a system one (5432)


def pg_env(workdir: Path) -> dict[str, str]:
    return {**os.environ, "CTR_PG_DIR": str(workdir / "postgres"), "CTR_PG_PORT": PG_PORT}


def start_postgres(workdir: Path) -> None:
    """The project's local PostgreSQL (scripts/postgres.sh), in BENCH_DIR, for the Dagster instance."""
    subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh"), "start"], env=pg_env(workdir), check=True)


def stop_postgres(workdir: Path) -> None:
    subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh"), "stop"], env=pg_env(workdir), check=False)


def fresh_pg_database(name: str) -> str:
    """An empty database for one run folder's Dagster instance; its DAGSTER_PG_URL."""
    psql = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", PG_PORT, "-U", "ctr", "-d", "postgres"]
    subprocess.run([*psql, "-c", f'drop database if exists "{name}"', "-c", f'create database "{name}"'], check=True)
    return f"postgresql+psycopg2://ctr@127.0.0.1:{PG_PORT}/{name}"


def prepare(workdir: Path, name: str, symbols: int, years: int, storage: str = "sqlite") -> dict:
    """Generated inputs (cached), a fresh run folder with the project copy, and the snapshot cut before
    WARM_UP_DAY (daily_runs appends the last two days); the dbt manifest of the copy prepared (what `make setup` does once, not timed)."""
    start = LAST_DAY.replace(year=LAST_DAY.year - years)
    generated = workdir / f"generated-{symbols}x{years}y"
    generate(generated, symbols, start)
    run = workdir / name
    if run.exists():
        shutil.rmtree(run)
    snapshot, logs = run / "snapshot", run / "logs"
    logs.mkdir(parents=True)
    project = project_copy(run / "project", symbols, start)
    cut_from(generated, snapshot, WARM_UP_DAY)
    database = run / "warehouse" / "china_tech_rally.duckdb"
    env = {
        **os.environ,
        "CTR_SOURCE": "snapshot",
        "CTR_SNAPSHOT_DIR": str(snapshot),
        "CTR_START_DATE": start.isoformat(),
        "DUCKDB_DATABASE": str(database),
        "DAGSTER_HOME": str(run / "dagster_home"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        # The same DuckDB memory budget for the project's sessions, dbt and the baseline script: without
        # it each takes 80% of RAM, and the peak memory measures the machine rather than the pipeline.
        "CTR_DUCKDB_MEMORY_LIMIT": os.environ.get("CTR_DUCKDB_MEMORY_LIMIT") or DUCKDB_MEMORY_LIMIT,
    }
    if storage == "postgres":
        # Runs and events in PostgreSQL (docs/scale-out.md): dagster-postgres writes a ranged run's
        # per-partition events in batches, where SQLite commits each one (an fsync each on this disk).
        env["DAGSTER_PG_URL"] = fresh_pg_database(f"dagster_{name}".replace("-", "_"))
        subprocess.run([PY, "-m", "orchestration.instance", env["DAGSTER_HOME"]], cwd=project, env=env, check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run([PY, "-m", "orchestration.dbt_project"], cwd=project, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return {"start": start, "generated": generated, "run": run, "snapshot": snapshot, "logs": logs,
            "project": project, "database": database, "env": env, "rows": rows_in(snapshot)}


def bench(scale: float, years: int, workdir: Path, storage: str, flat_years: int = 3) -> dict:
    symbols = max(1, round(FULL_SYMBOLS * scale))
    workdir.mkdir(parents=True, exist_ok=True)
    if storage == "postgres":
        start_postgres(workdir)
    try:
        return _bench(scale, years, workdir, storage, flat_years, symbols)
    finally:
        if storage == "postgres":
            stop_postgres(workdir)


def _bench(scale: float, years: int, workdir: Path, storage: str, flat_years: int, symbols: int) -> dict:
    # The code measured is the project copied now: its commit (and whether the tree had changes), now.
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *PROJECT_PARTS, ":!benchmarks/results"],
                           check=False, cwd=ROOT, capture_output=True, text=True).stdout.strip()
    long = prepare(workdir, "run", symbols, years, storage)
    project, env, logs, database, snapshot = long["project"], long["env"], long["logs"], long["database"], long["snapshot"]
    start, rows = long["start"], long["rows"]

    full = measure_dbt("full build", [PY, "-m", "orchestration.cli", "demo"], project, env, logs / "full.log")
    baseline_db = long["run"] / "baseline.duckdb"
    sql = measure("plain DuckDB", [PY, "-m", "benchmarks.scale", "baseline", str(snapshot),
                                   str(project / "dbt_project" / "seeds"), start.isoformat(), str(baseline_db)],
                  ROOT, env, logs / "baseline.log")
    agreement = compare_marts(database.parent / "published" / database.name, baseline_db)
    day = daily_runs("one-day run", long)
    headline = measure("make headline", [PY, "-m", "orchestration.cli", "headline"], project, env, logs / "headline.log")
    ui = time_ui(project, env, logs / "ui.log")
    sizes = {"warehouse_mb": database.stat().st_size / 1e6,
             "published_mb": (database.parent / "published" / database.name).stat().st_size / 1e6}

    # The same symbols with `flat_years` of history: its own full build (not compared), then the same day.
    short = prepare(workdir, f"run-{flat_years}y", symbols, flat_years, storage)
    full_short = measure_dbt(f"full build {flat_years}y", [PY, "-m", "orchestration.cli", "demo"], short["project"],
                             short["env"], short["logs"] / "full.log")
    day_short = daily_runs(f"one-day run {flat_years}y", short)
    return {
        "date": date.today().isoformat(),
        "machine": {"cores": os.cpu_count(), "memory_gib": round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / GIB, 1),
                    "platform": platform.platform(), "duckdb": duckdb.__version__, "python": platform.python_version()},
        "scale": scale,
        "synthetic_symbols": symbols,
        "years": years,
        "window": [start.isoformat(), LAST_DAY.isoformat()],
        "rows": rows,
        "stock_price_rows": rows["stock_prices"],
        "settings": {k: env.get(k) for k in ("CTR_DUCKDB_MEMORY_LIMIT", "CTR_DUCKDB_THREADS")},
        "dagster_storage": storage,
        "full_vs_sql": round(full["seconds"] / sql["seconds"], 3),
        "incremental_vs_full": round(day["seconds"] / full["seconds"], 4),
        "one_day_s": day["seconds"],
        "one_day_flat_ratio": round(day["seconds"] / day_short["seconds"], 3),
        "peak_rss_gib": max(full["peak_rss_gib"], day["peak_rss_gib"], full_short["peak_rss_gib"],
                            day_short["peak_rss_gib"]),
        "headline_s": headline["seconds"],
        "ui_first_page_s": ui["seconds"],
        "full": full,
        "sql": sql,
        "incremental": day,
        f"flat_{flat_years}y": {
            "years": flat_years,
            "window": [short["start"].isoformat(), LAST_DAY.isoformat()],
            "stock_price_rows": short["rows"]["stock_prices"],
            "full": full_short,
            "incremental": day_short,
        },
        "headline": headline,
        "ui": ui,
        "sizes_mb": {k: round(v, 1) for k, v in sizes.items()},
        "marts_agree": agreement,
        "commit": commit + ("+uncommitted changes" if dirty else ""),
    }


def print_table(result: dict) -> None:
    full, sql, day = result["full"], result["sql"], result["incremental"]
    print(f"\n{result['stock_price_rows']:,} stock price rows ({result['synthetic_symbols']:,} synthetic members x"
          f" {result['years']} years), {result['machine']['cores']} cores")
    print(f"{'':<34}{'seconds':>9}{'peak RSS GiB':>14}")
    for name, m in (("(a) full build through the project", full), ("(b) plain DuckDB script", sql),
                    ("(c) one-day run after (a)", day)):
        print(f"{name:<34}{m['seconds']:>9.1f}{m['peak_rss_gib']:>14.2f}")
    flat = next(v for k, v in result.items() if k.startswith("flat_"))
    print(f"{'(c) one-day run, ' + str(flat['years']) + ' years':<34}{flat['incremental']['seconds']:>9.1f}"
          f"{flat['incremental']['peak_rss_gib']:>14.2f}")
    print(f"full_vs_sql {result['full_vs_sql']:.2f} (target <= 3.0)   one-day {result['one_day_s']:.1f}s (<= 30)"
          f"   one_day_flat_ratio {result['one_day_flat_ratio']:.2f} (<= 1.2)"
          f"   peak_rss_gib {result['peak_rss_gib']:.2f} (<= 2.5)")
    print(f"make headline {result['headline_s']:.1f}s   make ui to first page {result['ui_first_page_s']}s")
    slow = sorted(full["steps_s"].items(), key=lambda kv: -kv[1])[:6]
    print("full build, slowest steps: " + ", ".join(f"{k} {v:.0f}s" for k, v in slow))
    slow = sorted(day["steps_s"].items(), key=lambda kv: -kv[1])[:6]
    print("one-day run, slowest steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in slow))
    for name, m in (("full build", full), ("one-day run", day)):
        nodes = list(m.get("dbt_nodes_s", {}).items())[:6]
        print(f"{name}, slowest dbt nodes: " + ", ".join(f"{k} {v:.1f}s" for k, v in nodes))
    bad = {m: v for m, v in result["marts_agree"].items()
           if v["project"] != v["baseline"] or v["project_rows_not_in_baseline"]}
    print("marts: project and baseline agree" if not bad else f"marts DIFFER from the baseline: {bad}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    base = sub.add_parser("baseline")
    base.add_argument("snapshot", type=Path)
    base.add_argument("seeds", type=Path)
    base.add_argument("start", type=date.fromisoformat)
    base.add_argument("database", type=Path)
    window = sub.add_parser("window")
    window.add_argument("day", type=date.fromisoformat)
    args = parser.parse_args(argv)
    if args.command == "baseline":
        return run_baseline(args.snapshot, args.seeds, args.start, args.database)
    if args.command == "window":
        sys.exit(run_window(args.day))
    scale = float(os.environ.get("BENCH_SCALE", "1"))
    workdir = Path(os.environ.get("BENCH_DIR", "/tmp/ctr-bench"))
    years = int(os.environ.get("BENCH_YEARS", str(YEARS)))
    # BENCH_DAGSTER=sqlite: Dagster's default storage (SQLite files in DAGSTER_HOME) instead.
    storage = os.environ.get("BENCH_DAGSTER", "postgres")
    result = bench(scale, years, workdir, storage)
    suffix = "" if (scale, years) == (1, YEARS) else f"-scale{scale:g}-{years}y"
    out = HERE / "results" / f"{result['date']}{suffix}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
