"""The snapshot-folder provider: the bundled offline sample, or a user's own export in the same format."""

from __future__ import annotations

import atexit
import codecs
import contextlib
import csv
import hashlib
import json
import mmap
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import NoReturn

import duckdb
import numpy as np
import pandas as pd

from orchestration.datasets import (
    DATASETS,
    DATASETS_BY_NAME,
    FX_RATES,
    INDEX_CONSTITUENTS,
    INDEX_PRICES,
    MAX_ABS_VALUE,
    SHARES_OUTSTANDING,
    STOCK_PRICES,
    Column,
    Dataset,
)
from orchestration.resources.providers.base import FetchResult, MarketDataProvider, ProviderError, QueryFetch

# Active ISO 4217 codes: a typo such as "RMB" or "HKS" must fail loudly rather than lose its FX join.
ISO_4217 = frozenset(
    ["AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWL"]
)
_MAX_REPORTED = 10
_EPOCH = date(1970, 1, 1)
_SQL_TYPE = {"text": "VARCHAR", "date": "DATE", "double": "DOUBLE"}


class SnapshotValidationError(ProviderError):
    pass


# DuckDB settings of the checks' own connections (memory_limit, threads), from the provider's config.
Limits = tuple[tuple[str, object], ...]


def read_snapshot_file(
    path: Path, dataset: Dataset, start: date | None = None, end: date | None = None, ids: Sequence[str] | None = None,
    limits: Limits = (),
) -> pd.DataFrame:
    """Read and validate one snapshot CSV; any problem raises naming the file, line and column.

    The whole file is validated; the rows returned are those dated in [start, end] of `ids` (each
    bound optional). A daily run of a 20M-row export thus hands on a day's rows, not the file.
    """
    return _checked(path, dataset, limits).rows(start, end, ids)


@dataclass(frozen=True)
class Appended:
    """The rows a file gained at its end: their typed SQL (over a copy of those bytes), the file's last
    date before them, and the byte offset they start at."""

    typed_sql: str
    after: date
    offset: int


@dataclass(frozen=True)
class CheckedFile:
    """What one validating pass over a snapshot file learned, and how to read its rows."""

    path: Path
    dataset: Dataset
    ids: frozenset[str]
    first: date | None
    last: date | None
    typed_sql: str  # the SQL of the typed rows
    text_values: dict[str, list[str]]  # the distinct values of each text column
    limits: Limits = ()
    # A file that grew by appended rows (_checked_appended): a window after their `after` date reads
    # the appended bytes only.
    appended: Appended | None = None

    def misses(self, ids: Sequence[str]) -> tuple[dict[str, str], list[str]]:
        """The requested ids the file lacks (each with why) and the ids it holds that nobody asked for."""
        return {i: f"not in {self.path}" for i in sorted(set(ids) - self.ids)}, sorted(self.ids - set(ids))

    def _source(self, start: date | None) -> str:
        if self.appended is not None and start is not None and start > self.appended.after:
            return self.appended.typed_sql
        return self.typed_sql

    def query(self, start: date, end: date, ids: Sequence[str]) -> tuple[str, list]:
        """The window's typed rows of `ids` as SQL and its parameters (only for a file DuckDB checked)."""
        when, entity = self.dataset.date_column, self.dataset.entity_column
        sql = (
            f"select {', '.join(self.dataset.column_names)} from ({self._source(start)})"
            f" where {when} between ? and ? and {entity} in (select unnest(?::varchar[]))"
        )
        return sql, [start, end, list(ids)]

    def rows(self, start: date | None = None, end: date | None = None, ids: Sequence[str] | None = None) -> pd.DataFrame:
        when, entity = self.dataset.date_column, self.dataset.entity_column
        texts = list(self.text_values)
        with duckdb.connect(config=dict(self.limits)) as con:
            con.execute(f"create temp view typed as {self._source(start)}")
            # Text as enums: pandas gets a code per row and one str per distinct value, not 20M strs.
            for name, values in self.text_values.items():
                con.execute(f"create temp table values_{name} as select unnest(?::varchar[]) as v", [values])
                con.execute(f"create type enum_{name} as enum (select v from values_{name} where v is not null)")
            frame = con.execute(
                f"select {', '.join(_fetched(c, texts) for c in self.dataset.columns)} from typed"
                f" where {when} between ? and ?"
                + (f" and {entity} in (select unnest(?::varchar[]))" if ids is not None else ""),
                [start or date.min, end or date.max, *([list(ids)] if ids is not None else [])],
            ).df()
        for col in self.dataset.columns:
            if col.type == "date":
                frame[col.name] = _shared_objects(frame[col.name], lambda days: _EPOCH + timedelta(days=int(days)))
            elif col.name in texts:
                frame[col.name] = _shared_objects(frame[col.name], str)
        return frame


def _checked(path: Path, dataset: Dataset, limits: Limits) -> CheckedFile:
    """DuckDB parses and checks the file in one streaming pass; only a file it finds a problem in is read
    again, row by row in file order, to name each problem by line, column, id and value."""
    return _check_with_duckdb(path, dataset, limits) or _raise_problems(path, dataset, limits)


def _header(path: Path) -> list[str] | None:
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return [c.strip() for c in next(csv.reader(f), [])]
    except (UnicodeDecodeError, csv.Error):
        return None


def _has_blank_line(path: Path) -> bool:
    # DuckDB would skip a blank line silently; the file is refused, naming the line (_raise_problems).
    with path.open("rb") as f:
        if path.stat().st_size == 0:
            return True
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(b"\n\n") >= 0 or data.find(b"\n\r\n") >= 0 or data[:1] in (b"\n", b"\r")


Problem = tuple[str, str, str]  # (column, SQL predicate over the typed rows, what is wrong)


def _typed(path: Path, header: list[str], dataset: Dataset) -> tuple[str, list[Problem], list[str]]:
    """The SQL of the file's typed rows (with the trimmed text of column i as c<i>), the problems each
    column can have, and the text columns. The one statement of what a valid snapshot value is."""
    raw = {name: f"c{i}" for i, name in enumerate(header)}
    selects, problems = [], []
    for col in dataset.columns:
        if col.name not in raw:
            selects.append(f"null::{_SQL_TYPE[col.type]} as {col.name}")
            continue
        v, typed = raw[col.name], col.name  # the trimmed text and the typed value, each computed once
        if col.required:
            problems.append((col.name, f"{v} = ''", "required value is empty"))
        if col.type == "date":
            selects.append(f"case when regexp_full_match({v}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') then try_cast({v} as date) end")
            problems.append((col.name, f"{v} <> '' and {typed} is null", "not a date (YYYY-MM-DD)"))
        elif col.type == "double":
            # DuckDB reads '1_000' as a number; a CSV export never means one.
            selects.append(f"case when {v} <> '' and not contains({v}, '_') then try_cast({v} as double) end")
            problems.append((col.name, f"{v} <> '' and {typed} is null", "not a number"))
            # inf parses as a number; 1e308 does too and overflows to inf inside a market cap.
            problems.append((col.name, f"not (isfinite({typed}) and abs({typed}) < {MAX_ABS_VALUE!r})",
                             f"not a finite number below {MAX_ABS_VALUE:.0e}"))
            if col.name in dataset.positive_columns:
                problems.append((col.name, f"{typed} <= 0", "must be greater than zero"))
        else:
            upper = f"upper({v})" if col.name in ("index_id", "currency") else v
            if col.name == "currency":
                iso = ", ".join(repr(c) for c in sorted(ISO_4217))
                problems.append((col.name, f"{v} <> '' and not list_contains([{iso}], {typed})",
                                 "unknown ISO 4217 currency"))
            selects.append(f"nullif({upper}, '')")
        selects[-1] += f" as {col.name}"
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in raw.values())
    scan = (
        f"read_csv('{_sql_string(path)}', header = true, auto_detect = false, columns = {{{columns}}},"
        " delim = ',', quote = '\"', escape = '\"', strict_mode = true, null_padding = false, encoding = 'utf-8')"
    )
    texts = [c.name for c in dataset.columns if c.type == "text" and c.name in raw]
    trimmed = ", ".join(f"trim(coalesce({c}, '')) as {c}" for c in raw.values())
    return f"select {', '.join(selects)}, * from (select {trimmed} from {scan})", problems, texts


def _check_with_duckdb(path: Path, dataset: Dataset, limits: Limits) -> CheckedFile | None:
    """The file checked in SQL, or None when it has any problem."""
    header = _header(path)
    if not header or len(set(header)) < len(header) or _has_blank_line(path):
        return None
    if any(c not in header for c in dataset.required_columns):
        return None
    typed_sql, problems, texts = _typed(path, header, dataset)
    key = ", ".join(dataset.key)
    when, entity = dataset.date_column, dataset.entity_column
    # One streaming pass checks the file; the rows are read by a second one, for the window asked:
    # parsing twice is cheaper than holding 20M rows both in DuckDB and in the frame handed on.
    with duckdb.connect(config=dict(limits)) as con:
        try:
            con.execute(f"create temp view typed as {typed_sql}")
            found = con.execute(
                f"select count(*) filter (where {' or '.join(f'({p[1]})' for p in problems) or 'false'}),"
                f" count(*) - count(distinct ({key})), min({when}), max({when}),"
                f" {', '.join(f'list(distinct {c})' for c in texts) or 'null'}"
                " from typed"
            ).fetchone()
        except duckdb.Error:
            return None
    if found[:2] != (0, 0):
        return None
    text_values = {name: values or [] for name, values in zip(texts, found[4:])}  # no rows: NULL lists
    ids = frozenset(v for v in text_values.get(entity, []) if v is not None)
    return CheckedFile(path, dataset, ids, found[2], found[3], typed_sql=typed_sql, text_values=text_values,
                       limits=limits)


def _first_blank_line(path: Path) -> int | None:
    with path.open("rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip(b"\r\n"):
                return number
    return None


def _raise_problems(path: Path, dataset: Dataset, limits: Limits) -> NoReturn:
    """Raise naming what is wrong with a file the check refused: its shape, or each bad value by line,
    column, id and value (the first few, and how many), or each repeated key by its lines."""
    def refuse(what: str) -> NoReturn:
        raise SnapshotValidationError(f"{path}{what}")

    if path.stat().st_size == 0:
        refuse(", line 1: empty file, expected a header row")
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as f:
        try:
            while chunk := f.read(_RECORD_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            refuse(f": not UTF-8 ({exc})")
    header = _header(path)
    if header is None:
        refuse(": not a well-formed CSV (its header cannot be read)")
    missing = [c for c in dataset.required_columns if c not in header]
    if missing:
        refuse(f", line 1: missing required column(s) {', '.join(missing)}; header has {header}")
    if len(set(header)) < len(header):
        refuse(f", line 1: a column appears twice in the header {header}")
    if (blank := _first_blank_line(path)) is not None:
        refuse(f", line {blank}: blank line; a row needs a value in every required column")
    typed_sql, problems, _ = _typed(path, header, dataset)
    entity, key = dataset.entity_column, list(dataset.key)
    raw = {name: f"c{i}" for i, name in enumerate(header)}
    # One thread: the rows are numbered in file order (the header is line 1).
    with duckdb.connect(config={**dict(limits), "threads": 1}) as con:
        try:
            con.execute(f"create temp table numbered as select row_number() over () + 1 as line, * from ({typed_sql})")
            found = con.execute(" union all ".join(
                f"select line, {i} as rule, {entity}, {raw[column]} from numbered where {predicate}"
                for i, (column, predicate, _) in enumerate(problems)) + " order by line, rule").fetchall()
            repeated = [] if found else con.execute(
                f"select {', '.join(key)}, list(line order by line) from numbered group by all having count(*) > 1"
                " order by min(line)").fetchall()
        except duckdb.Error as exc:
            refuse(f": not a well-formed CSV ({str(exc).splitlines()[0]})")
    messages = []
    for line, rule, entity_id, value in found[:_MAX_REPORTED]:
        column, _, problem = problems[rule]
        about = f" ({entity} {entity_id})" if entity_id else ""
        messages.append(f"{path}, line {line}, column '{column}'{about}: {problem} (value {value!r})")
    if found:
        more = f"\n... and {len(found) - len(messages)} more" if len(found) > len(messages) else ""
        refuse(f": {len(found)} invalid value(s); nothing was loaded:\n  " + "\n  ".join(messages) + more)
    details = [f"{dict(zip(key, row[:-1]))} on lines {', '.join(map(str, row[-1]))}" for row in repeated[:_MAX_REPORTED]]
    refuse(f": duplicate key ({', '.join(key)}) in {len(repeated)} case(s); nothing was loaded:\n  " + "\n  ".join(details))


# --- files that grow: check the appended rows only -------------------------------------------------
#
# A daily export that appends a day to a 1 GB file would otherwise be checked whole on every run
# (about 18 s at 19M rows). What a check learned is kept in a record beside the warehouse: the file's
# size, the SHA-256 of its bytes, its date range and its text values. When the file still starts with
# exactly those bytes (hashed, about 1 s per GB) and ends a line there, only the bytes after them are
# checked; their keys cannot repeat an earlier row's when all their dates are later than the file's
# last date before. Anything else (an edited, re-sorted or shortened file, a problem in the new rows,
# new rows dated on or before the old last date) is checked whole, as without a record.

_RECORD_CHUNK = 1 << 22


def _rules_fingerprint(dataset: Dataset) -> str:
    # A change of this module or of the dataset's definition may change what is valid: old records lapse.
    return hashlib.sha256(Path(__file__).read_bytes() + repr(dataset).encode()).hexdigest()


def _record_path(record_dir: Path, path: Path, dataset: Dataset) -> Path:
    name = hashlib.sha256(f"{path.resolve()}\0{dataset.name}".encode()).hexdigest()[:24]
    return record_dir / f"{dataset.name}-{name}.json"


def _hash_prefix(f, size: int):
    """SHA-256 of the next `size` bytes of `f` (a hash object, to go on with) and the last of them;
    None when the file is shorter."""
    h, left, last = hashlib.sha256(), size, b""
    while left:
        chunk = f.read(min(_RECORD_CHUNK, left))
        if not chunk:
            return None
        h.update(chunk)
        left, last = left - len(chunk), chunk[-1:]
    return h, last


def _recorded_prefix(f, record: dict):
    """(header line, running hash) when the open file `f` still starts with the whole lines its record
    hashed, left positioned after them; None otherwise."""
    head = f.readline()
    f.seek(0)
    prefix = _hash_prefix(f, record["size"])
    if prefix is None or prefix[0].hexdigest() != record["sha256"] or prefix[1] != b"\n":
        return None
    return head, prefix[0]


def _save_record(record_dir: Path, checked: CheckedFile, size: int, digest: str) -> None:
    record = {
        "rules": _rules_fingerprint(checked.dataset), "size": size, "sha256": digest,
        "first": checked.first.isoformat() if checked.first else None,
        "last": checked.last.isoformat() if checked.last else None,
        "text_values": checked.text_values,
        "appended": None if checked.appended is None else {
            "offset": checked.appended.offset, "after": checked.appended.after.isoformat()},
    }
    target = _record_path(record_dir, checked.path, checked.dataset)
    try:
        record_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=record_dir, suffix=".tmp", delete=False) as f:
            json.dump(record, f)
        os.replace(f.name, target)  # atomic: a concurrent reader sees the old record or the new one
    except OSError:
        pass  # only a cache: the next run checks the file whole


def _load_record(record_dir: Path, path: Path, dataset: Dataset) -> dict | None:
    try:
        record = json.loads(_record_path(record_dir, path, dataset).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("rules") == _rules_fingerprint(dataset) else None


def _checked_appended(path: Path, dataset: Dataset, record: dict, limits: Limits) -> tuple[CheckedFile, int, str] | None:
    """The file checked from its record and its appended bytes, with the size and digest of the bytes
    read; None: check it whole."""
    old_size, last = record["size"], record["last"]
    if last is None or not all(c in dataset.key for c in (dataset.date_column, dataset.entity_column)):
        return None
    last = date.fromisoformat(last)
    header = _header(path)
    if not header:
        return None
    with path.open("rb") as f:
        if (recorded := _recorded_prefix(f, record)) is None:
            return None
        head, h = recorded
        typed_sql = _typed(path, header, dataset)[0]
        values = {k: list(v) for k, v in record["text_values"].items()}
        first = date.fromisoformat(record["first"])
        size = old_size
        tail = _tail_file(dataset)
        with open(tail, "wb") as out:
            out.write(head)
            while chunk := f.read(_RECORD_CHUNK):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
        entity = dataset.entity_column
        if size == old_size:
            # Unchanged: the rows appended last time (checked then) are still where they were.
            earlier = record.get("appended")
            appended = None
            if earlier:
                f.seek(earlier["offset"])
                with open(tail, "ab") as out:
                    shutil.copyfileobj(f, out)
                after = date.fromisoformat(earlier["after"])
                appended = Appended(_typed(tail, header, dataset)[0], after, earlier["offset"])
            else:
                _unlink(tail)
            ids = frozenset(v for v in values.get(entity, []) if v is not None)
            checked = CheckedFile(path, dataset, ids, first, last, typed_sql=typed_sql, text_values=values,
                                  appended=appended, limits=limits)
            return checked, size, h.hexdigest()
    new = _check_with_duckdb(tail, dataset, limits)
    if new is None or new.first is None or new.first <= last or set(new.text_values) != set(values):
        _unlink(tail)
        return None
    merged = {k: list(dict.fromkeys(values[k] + new.text_values[k])) for k in values}
    ids = frozenset(v for v in merged.get(entity, []) if v is not None)
    checked = CheckedFile(path, dataset, ids, first, new.last, typed_sql=typed_sql, text_values=merged,
                          appended=Appended(new.typed_sql, last, old_size), limits=limits)
    return checked, size, h.hexdigest()


def _tail_file(dataset: Dataset) -> Path:
    """A temporary file for the header and appended rows of a snapshot file, removed at exit."""
    handle, name = tempfile.mkstemp(suffix=f"-{dataset.file_name}")
    os.close(handle)
    atexit.register(_unlink, name)
    return Path(name)


def _unlink(name: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


def _checked_recorded(path: Path, dataset: Dataset, record_dir: Path | None, limits: Limits) -> CheckedFile:
    """_checked(), from the record of an earlier check and the appended rows where that is safe."""
    if record_dir is None:
        return _checked(path, dataset, limits)
    record = _load_record(record_dir, path, dataset)
    try:
        found = _checked_appended(path, dataset, record, limits) if record is not None else None
    except (KeyError, TypeError, ValueError, AttributeError):
        found = None  # a damaged record: only a cache, so the file is checked whole
    if found is not None:
        checked, size, digest = found
    else:
        before = path.stat()
        with path.open("rb") as f:
            prefix = _hash_prefix(f, before.st_size)
        size, digest = before.st_size, prefix and prefix[0].hexdigest()
        checked = _checked(path, dataset, limits)
        after = path.stat()
        if digest is None or (after.st_size, after.st_mtime_ns) != (size, before.st_mtime_ns):
            return checked  # it changed under the check: nothing to record
    _save_record(record_dir, checked, size, digest)
    return checked


def _fetched(col: Column, texts: list[str]) -> str:
    # Days since the epoch, not DATE: DuckDB's conversion of dates to datetime64 costs seconds per
    # million rows, and the values become date objects anyway.
    if col.type == "date":
        return f"({col.name} - date '{_EPOCH}')::integer as {col.name}"
    return f"{col.name}::enum_{col.name} as {col.name}" if col.name in texts else col.name


def _shared_objects(column: pd.Series, convert) -> pd.Series:
    """Object column with one Python object per distinct value (a few thousand dates or symbols),
    which is what the rest of the ingestion path expects, without one object per row."""
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    values = np.empty(len(uniques) + 1, dtype=object)
    values[:-1] = [convert(u) for u in uniques]
    values[-1] = None
    return pd.Series(values[codes], index=column.index, dtype=object)


def _sql_string(path: Path) -> str:
    return str(path).replace("'", "''")


@lru_cache(maxsize=len(DATASETS))
def _checked_unchanged(path: str, dataset_name: str, mtime_ns: int, size: int, record_dir: str | None,
                       limits: Limits) -> CheckedFile:
    del mtime_ns, size  # part of the cache key only: an edited file is validated again
    return _checked_recorded(Path(path), DATASETS_BY_NAME[dataset_name], Path(record_dir) if record_dir else None,
                             limits)


# --- the folder's last date, for the code location -----------------------------------------------
#
# The partitions end at the snapshot's last date, so the code location needs that date each time it
# loads (every `make ui`, every run), before any run has checked the files. It reads the date column
# alone (no typing or key check: a file with problems fails its run, not the load), and keeps what it
# found per file size and modification time beside the check records, so an unchanged 1 GB export
# costs one stat per file.

_LAST_DATES = "last_dates.json"


def _scan_last_date(path: Path, dataset: Dataset, limits: Limits) -> date | None:
    header = _header(path)
    if not header or dataset.date_column not in header:
        return None
    columns = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(header)))
    column = f"c{header.index(dataset.date_column)}"
    try:
        # No progress bar: a big file takes seconds, and the bar would land in `make ui`'s terminal.
        with duckdb.connect(config=dict(limits)) as con:
            con.execute("set enable_progress_bar = false")
            found = con.execute(
                f"select max(try_cast(trim({column}) as date)) from read_csv('{_sql_string(path)}', header = true,"
                f" auto_detect = false, columns = {{{columns}}}, delim = ',', quote = '\"', escape = '\"',"
                " null_padding = true, ignore_errors = true)"
            ).fetchone()
    except duckdb.Error:
        return None
    return found[0] if found else None


def _recorded_last_date(path: Path, dataset: Dataset, record_dir: Path | None, limits: Limits) -> date | None:
    """A grown file's last date from its check record and the bytes appended since: hashing the checked
    bytes (about 1 s per GB) instead of reading every row's date (3 s at 19M rows), which a daily
    append would otherwise cost each time the definitions load. None: no usable record, scan it whole."""
    record = _load_record(record_dir, path, dataset) if record_dir is not None else None
    try:
        last = date.fromisoformat(record["last"])
        if not isinstance(record["size"], int) or not isinstance(record["sha256"], str):
            return None
    except (TypeError, KeyError, ValueError):  # no record, or a damaged one: only a cache
        return None
    with path.open("rb") as f:
        if (recorded := _recorded_prefix(f, record)) is None:
            return None
        tail = _tail_file(dataset)
        with open(tail, "wb") as out:
            out.write(recorded[0])
            shutil.copyfileobj(f, out)
    try:
        appended = _scan_last_date(tail, dataset, limits)
    finally:
        _unlink(tail)
    return max(last, appended) if appended else last


def snapshot_last_date(folder: Path, record_dir: Path | None = None, limits: Limits = ()) -> date | None:
    """The latest date in any snapshot file of `folder` (None: no file holds a date)."""
    cache_path = record_dir / _LAST_DATES if record_dir is not None else None
    try:
        cache = json.loads(cache_path.read_text()) if cache_path is not None else {}
    except (OSError, ValueError):
        cache = {}
    if not isinstance(cache, dict):
        cache = {}
    found, fresh = [], {}
    for dataset in DATASETS:
        path = folder / dataset.file_name
        try:
            stat = path.stat()
        except OSError:
            continue
        key = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
        if key in cache:
            last = cache[key]
        else:
            scanned = _recorded_last_date(path, dataset, record_dir, limits) or _scan_last_date(path, dataset, limits)
            last = scanned.isoformat() if scanned else None
        fresh[key] = last
        if last:
            found.append(date.fromisoformat(last))
    if cache_path is not None and fresh != cache:
        with contextlib.suppress(OSError):  # only a cache: the next load scans again
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", dir=cache_path.parent, suffix=".tmp", delete=False) as f:
                json.dump(fresh, f)
            os.replace(f.name, cache_path)
    return max(found, default=None)


class SnapshotProvider(MarketDataProvider):
    """Reads a snapshot folder (format in docs/warehouse.md); a missing file means "no data of that kind"."""

    snapshot_dir: str
    label: str = "snapshot"
    all_or_nothing: bool = True
    # Where what a check of a file learned is kept, so a file that only grew is checked from its new
    # rows in the next process (None: every process checks each file whole once).
    record_dir: str | None = None
    # DuckDB's memory and thread budget for the checks (CTR_DUCKDB_MEMORY_LIMIT, CTR_DUCKDB_THREADS).
    memory_limit: str | None = None
    threads: int | None = None

    @property
    def limits(self) -> Limits:
        return tuple((k, v) for k, v in (("memory_limit", self.memory_limit), ("threads", self.threads)) if v)

    @property
    def source_name(self) -> str:
        return f"{self.label}:{Path(self.snapshot_dir).name}"

    def path_of(self, dataset: Dataset) -> Path:
        return Path(self.snapshot_dir) / dataset.file_name

    def check(self, dataset: Dataset) -> CheckedFile | None:
        """The validated file (None: no such file). Cached per process, not per instance: Dagster hands
        each run a fresh copy of the resource, and `make demo` validates the folder before the run."""
        path = self.path_of(dataset)
        if not path.is_file():
            return None
        stat = path.stat()
        return _checked_unchanged(str(path), dataset.name, stat.st_mtime_ns, stat.st_size, self.record_dir, self.limits)

    def load(self, dataset: Dataset) -> pd.DataFrame | None:
        """Every row of the dataset's file (None: no such file)."""
        checked = self.check(dataset)
        return None if checked is None else checked.rows()

    def fetch_query(self, dataset: Dataset, ids: Sequence[str], start: date, end: date) -> QueryFetch | None:
        # As-of datasets (small) keep the frame path: their carry-in and restatement rules are in Python.
        checked = None if dataset.as_of else self.check(dataset)
        if checked is None or checked.first is None:
            return None
        sql, params = checked.query(start, end, ids)
        return QueryFetch(dataset, sql, params, self.source_name, *checked.misses(ids))

    def date_range(self) -> tuple[date, date] | None:
        """First and last date the folder holds, over all its files."""
        bounds = [
            (checked.first, checked.last) for d in DATASETS
            if (checked := self.check(d)) is not None and checked.first is not None
        ]
        if not bounds:
            return None
        return min(b[0] for b in bounds), max(b[1] for b in bounds)

    def as_of_lookback(self, dataset: Dataset) -> timedelta | None:
        return None  # the whole file is at hand: the value in force may be years old

    def _select(self, dataset: Dataset, ids: Sequence[str], start: date, end: date) -> FetchResult:
        path = self.path_of(dataset)
        checked = self.check(dataset)
        if checked is None:
            reason = f"{path} does not exist"
            return FetchResult(dataset, pd.DataFrame(columns=dataset.column_names), self.source_name,
                               {i: reason for i in ids})
        if checked.first is None:
            reason = f"{path} holds a header and no rows"
            return FetchResult(dataset, checked.rows(), self.source_name, {i: reason for i in ids})
        return FetchResult(dataset, checked.rows(start, end, ids), self.source_name, *checked.misses(ids))

    def index_prices(self, index_ids: Sequence[str], start: date, end: date) -> FetchResult:
        return self._select(INDEX_PRICES, index_ids, start, end)

    def stock_prices(self, symbols: Sequence[str], start: date, end: date) -> FetchResult:
        return self._select(STOCK_PRICES, symbols, start, end)

    def fx_rates(self, currencies: Sequence[str], start: date, end: date) -> FetchResult:
        return self._select(FX_RATES, currencies, start, end)

    def shares_outstanding(self, symbols: Sequence[str], start: date, end: date) -> FetchResult:
        return self._select(SHARES_OUTSTANDING, symbols, start, end)

    def index_constituents(self, index_ids: Sequence[str], start: date, end: date) -> FetchResult:
        return self._select(INDEX_CONSTITUENTS, index_ids, start, end)
