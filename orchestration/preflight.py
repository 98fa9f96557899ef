"""Pre-flight validation of the configuration: the seeds and the settings, checked before anything is fetched.

A typo in a seed (a currency "RMB", a symbol "688256.SH", a member listed twice) would otherwise surface
minutes later as a failed fetch, an FX join that silently finds nothing, or a dbt test on a half-built
warehouse. The CLI calls `check` before it starts a run and the code location calls it when it loads, so
the UI shows the same message instead of a graph that cannot run.
"""

from __future__ import annotations

import csv
import re
from datetime import date
from pathlib import Path

from orchestration.datasets import DATASETS
from orchestration.resources.providers.base import ProviderError
from orchestration.resources.providers.snapshot import ISO_4217
from orchestration.resources.providers.symbols import a_share_suffix
from orchestration.settings import PROJECT_ROOT, SEEDS_DIR, Settings

# Per Yahoo suffix, what the exchange-local code looks like; other suffixes take the generic code.
_CODE_BY_SUFFIX = {
    "HK": re.compile(r"\d{4,5}"),
    "KS": re.compile(r"\d{6}"),
    "KQ": re.compile(r"\d{6}"),
    "T": re.compile(r"[0-9][0-9A-Z]{3}"),
    "TW": re.compile(r"\d{4,6}"),
}
_CODE = re.compile(r"[A-Z0-9][A-Z0-9\-]*")
_US_TICKER = re.compile(r"[A-Z][A-Z0-9\-]*")


class ConfigurationError(ValueError):
    """The configuration cannot work; the message names each problem by file and line."""


def _where(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _rows(seeds_dir: Path, name: str, problems: list[str]) -> tuple[Path, list[dict[str, str]]]:
    path = seeds_dir / f"{name}.csv"
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return path, [{k: (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(f)]
    except OSError as exc:
        problems.append(f"{_where(path)}: cannot be read ({exc.strerror or exc})")
        return path, []


def symbol_problem(symbol: str, calendar: str, suffixes: dict[str, str], us_calendars: set[str]) -> str | None:
    """Why `symbol` is not a listing symbol on `calendar`, or None. `suffixes`: Yahoo suffix -> calendar."""
    if symbol != symbol.upper() or not re.fullmatch(r"[A-Z0-9\-]+(\.[A-Z]+)?", symbol):
        return f"symbol {symbol!r} is not a Yahoo-style listing symbol (e.g. 688256.SS, 0700.HK, NVDA)"
    code, _, suffix = symbol.partition(".")
    if not suffix:
        if not _US_TICKER.fullmatch(code):
            return f"symbol {symbol!r} is not a US ticker and has no exchange suffix"
        if calendar not in us_calendars:
            return f"symbol {symbol!r} has no suffix (a US listing) but its calendar is {calendar!r}"
        return None
    if suffix not in suffixes:
        return f"symbol {symbol!r}: unknown exchange suffix .{suffix} (not in exchanges.csv)"
    if suffix in ("SS", "SZ"):
        try:
            if a_share_suffix(code) != suffix:
                return f"symbol {symbol!r}: A-share code {code} does not trade on .{suffix}"
        except ProviderError as exc:
            return f"symbol {symbol!r}: {exc}"
    elif not (_CODE_BY_SUFFIX.get(suffix) or _CODE).fullmatch(code):
        return f"symbol {symbol!r}: {code!r} is not a code of the .{suffix} exchange"
    if calendar != suffixes[suffix]:
        return f"symbol {symbol!r} lists on {suffixes[suffix]} (suffix .{suffix}) but its calendar is {calendar!r}"
    return None


def seed_problems(seeds_dir: Path = SEEDS_DIR) -> list[str]:
    problems: list[str] = []

    path, exchanges = _rows(seeds_dir, "exchanges", problems)
    calendars: dict[str, int] = {}
    suffixes: dict[str, str] = {}
    for line, row in enumerate(exchanges, start=2):
        at = f"{_where(path)}, line {line}"
        calendar = row.get("calendar", "")
        if not calendar:
            problems.append(f"{at}: empty calendar")
        elif calendar in calendars:
            problems.append(f"{at}: calendar {calendar} is listed twice (first on line {calendars[calendar]})")
        calendars.setdefault(calendar, line)
        if row.get("currency", "") not in ISO_4217:
            problems.append(f"{at}: currency {row.get('currency', '')!r} is not an ISO 4217 code")
        for sfx in row.get("yahoo_suffixes", "").split():
            if sfx in suffixes:
                problems.append(f"{at}: suffix .{sfx} already belongs to {suffixes[sfx]}")
            suffixes.setdefault(sfx, calendar)
    us_calendars = {r.get("calendar", "") for r in exchanges if not r.get("yahoo_suffixes", "").split()}

    path, indices = _rows(seeds_dir, "index_catalog", problems)
    index_lines: dict[str, int] = {}
    for line, row in enumerate(indices, start=2):
        at = f"{_where(path)}, line {line}"
        index_id = row.get("index_id", "")
        if not re.fullmatch(r"[A-Z0-9_]+", index_id):
            problems.append(f"{at}: index_id {index_id!r} is not an upper-case id (e.g. STAR50)")
        elif index_id in index_lines:
            problems.append(f"{at}: index_id {index_id} is listed twice (first on line {index_lines[index_id]})")
        index_lines.setdefault(index_id, line)
        if row.get("currency", "") not in ISO_4217:
            problems.append(f"{at}: {index_id} currency {row.get('currency', '')!r} is not an ISO 4217 code")
        if row.get("calendar", "") not in calendars:
            problems.append(f"{at}: {index_id} calendar {row.get('calendar', '')!r} is not in exchanges.csv")
        count = row.get("constituent_count", "").strip()
        if count and not (count.isdigit() and int(count) > 0):
            problems.append(f"{at}: {index_id} constituent_count {count!r} is not a positive whole number")

    path, members = _rows(seeds_dir, "ai_basket_members", problems)
    member_lines: dict[str, tuple[int, str]] = {}
    for line, row in enumerate(members, start=2):
        at = f"{_where(path)}, line {line}"
        basket, symbol, calendar = row.get("basket_id", ""), row.get("symbol", ""), row.get("calendar", "")
        if not basket:
            problems.append(f"{at}: empty basket_id")
        if symbol in member_lines:
            first, first_basket = member_lines[symbol]
            problems.append(
                f"{at}: duplicate member {symbol} (already in {first_basket} on line {first}); a symbol"
                " belongs to one basket once"
            )
        else:
            member_lines[symbol] = (line, basket)
        currency = row.get("currency", "")
        if currency not in ISO_4217:
            problems.append(f"{at}: {symbol} has unknown currency {currency!r} (not an ISO 4217 code)")
        if calendar not in calendars:
            problems.append(f"{at}: {symbol} calendar {calendar!r} is not in exchanges.csv")
        elif (why := symbol_problem(symbol, calendar, suffixes, us_calendars)) is not None:
            problems.append(f"{at}: {why}")
        try:
            date.fromisoformat(row.get("listed_on", ""))
        except ValueError:
            problems.append(f"{at}: {symbol} listed_on {row.get('listed_on', '')!r} is not a YYYY-MM-DD date")
    return problems


def settings_problems(settings: Settings) -> list[str]:
    if settings.source != "snapshot":
        return []
    folder = settings.snapshot_dir
    if not folder.exists():
        return [f"CTR_SNAPSHOT_DIR {folder} does not exist"]
    if not folder.is_dir():
        return [f"CTR_SNAPSHOT_DIR {folder} is not a folder"]
    if not any((folder / d.file_name).is_file() for d in DATASETS):
        names = ", ".join(d.file_name for d in DATASETS)
        return [f"CTR_SNAPSHOT_DIR {folder} holds none of the snapshot files ({names})"]
    return []


def check(settings: Settings, seeds_dir: Path | None = None) -> None:
    """Raise ConfigurationError listing every problem; return quietly when the configuration can run."""
    problems = settings_problems(settings) + seed_problems(seeds_dir or SEEDS_DIR)
    if problems:
        raise ConfigurationError(
            f"{len(problems)} configuration problem(s); nothing was fetched and the warehouse was not touched:\n  "
            + "\n  ".join(problems[:20])
            + (f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else "")
        )
