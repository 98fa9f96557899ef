"""Raw ingestion: one daily-partitioned asset per dataset, written to the `raw` schema."""
# No `from __future__ import annotations`: Dagster reads the Config annotation at decoration time.


from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import duckdb
import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    Config,
    Definitions,
    MaterializeResult,
    MetadataValue,
    PartitionsDefinition,
    asset,
    definitions,
)

from orchestration import audit_log, reference
from orchestration.composition import current
from orchestration.datasets import (
    CORPORATE_ACTIONS,
    DATASETS,
    FX_RATES,
    INDEX_CONSTITUENTS,
    INDEX_PRICES,
    SHARES_OUTSTANDING,
    STOCK_PRICES,
    Dataset,
)
from orchestration.quarantine import quarantine
from orchestration.resources.providers.base import (
    FetchResult,
    MarketDataProvider,
    ProviderError,
    QueryFetch,
    unusable_values,
)
from orchestration.resources.warehouse import Warehouse, WarehouseSession, WriteSummary

# What each raw asset asks its provider for; the seeds decide, so adding a member is a CSV edit.
REQUESTED_IDS: dict[str, Callable[[], list[str]]] = {
    INDEX_PRICES.name: reference.index_ids,
    STOCK_PRICES.name: reference.stock_symbols,
    FX_RATES.name: reference.fx_currencies,
    SHARES_OUTSTANDING.name: reference.stock_symbols,
    INDEX_CONSTITUENTS.name: lambda: list(reference.constituent_counts()),
}


class RawLoadConfig(Config):
    """Restrict a run to the ids listed on some exchange calendars (e.g. the Asia-close schedule).

    Empty means every id. Ids with no calendar (FX rates) are always loaded.
    """

    calendars: list[str] = []  # noqa: RUF012 - a pydantic field; pydantic copies the default


def _calendar_lookup(dataset: Dataset) -> dict[str, str]:
    if dataset.entity_column == "index_id":
        return reference.calendar_of_index()
    if dataset.entity_column == "symbol":
        return reference.calendar_of_symbol()
    return {}


def requested_ids(dataset: Dataset, calendars: list[str]) -> list[str]:
    ids = REQUESTED_IDS[dataset.name]()
    if not calendars:
        return ids
    lookup = _calendar_lookup(dataset)
    return [i for i in ids if lookup.get(i) is None or lookup[i] in calendars]


def first_days(dataset: Dataset, ids: list[str], start) -> dict:
    """Per requested id, the first day of the window it can have a bar on: a member from its listing
    (dbt_project/seeds/ai_basket_members.csv, listed_on), anything else from the window's start."""
    listed = {m.symbol: m.listed_on for m in reference.basket_members()} if dataset.entity_column == "symbol" else {}
    return {i: max(start, listed.get(i, start)) for i in ids}


def screen(result: FetchResult, ids: list[str], all_or_nothing: bool) -> FetchResult:
    """Keep rows that cannot be loaded out of the warehouse, before anything is written.

    All or nothing (a snapshot file): raise, naming each id and row. Per id (a live source): the id
    joins the failures and keeps the rows it already has."""
    dataset = result.dataset
    priced = dataset.entity_column == "symbol" and "currency" in dataset.column_names
    currency_of = reference.currency_of_symbol() if priced else None
    frame = result.frame[result.frame[dataset.entity_column].isin(ids)]
    unusable = unusable_values(dataset, frame, currency_of)
    if not unusable:
        return result
    if all_or_nothing:
        raise unusable_error(result.source, dataset, unusable)
    keep = result.frame[~result.frame[dataset.entity_column].isin(unusable)]
    return FetchResult(dataset, keep, result.source, {**result.failures, **unusable}, result.ignored_ids)


def unusable_error(source: str, dataset: Dataset, unusable: dict[str, str]) -> ProviderError:
    return ProviderError(
        f"{source} {dataset.file_name}: {len(unusable)} id(s) with unusable rows; nothing was written:\n  "
        + "\n  ".join(f"{i}: {why}" for i, why in sorted(unusable.items())[:10])
    )


def write_from_query(
    fetch: QueryFetch, warehouse: Warehouse, ids: list[str], start, end, loaded_at: datetime
) -> WriteSummary:
    """The rows go from the source to the warehouse inside DuckDB. `screen`'s rule for them runs on the
    written rows before the commit: the provider's own validation cannot know the currency each listing
    is configured in, and a mislabelled row rolls the write back."""
    dataset = fetch.dataset
    entity, when = dataset.entity_column, dataset.date_column
    if not (entity == "symbol" and "currency" in dataset.column_names):
        return warehouse.replace_window_from_query(fetch, ids, start, end, loaded_at)
    currency_of = reference.currency_of_symbol()
    window = f"{entity} in (select unnest(?::varchar[])) and {when} between ? and ?"

    def verify(written: WarehouseSession) -> None:
        labels = written.rows(f"select distinct {entity}, currency from {dataset.table} where {window}", [ids, start, end])
        wrong = sorted({i for i, currency in labels if i in currency_of and currency != currency_of[i]})
        if wrong:
            rows = written.frame(
                f"select {', '.join(dataset.column_names)} from {dataset.table} where {window}", [wrong, start, end]
            )
            rows[when] = rows[when].dt.date
            raise unusable_error(fetch.source, dataset, unusable_values(dataset, rows, currency_of))

    return warehouse.replace_window_from_query(fetch, ids, start, end, loaded_at, verify)


def drop_restatements(result: FetchResult, warehouse: Warehouse, start) -> FetchResult:
    """An as-of dataset's rows on the window's first day that only restate the value already in force in
    the warehouse (what the carry-in rule brings along on every run after the first) are not stored:
    without this a daily run would add a share count per symbol per day with nothing new in it."""
    dataset = result.dataset
    entity, when = dataset.entity_column, dataset.date_column
    frame = result.frame
    opening = frame[frame[when] == start]
    if not dataset.as_of or opening.empty:
        return result
    values = [c for c in dataset.column_names if c not in (entity, when)]
    # Read-only and outside any write: on a lake two runs read at once without a commit conflict.
    try:
        with warehouse.session(read_only=True) as wh:
            if not wh.relation_exists("raw", dataset.name):
                return result
            in_force = wh.frame(
                f"select {', '.join(dataset.column_names)} from {dataset.table} where {when} < ?"
                f" qualify {when} = max({when}) over (partition by {entity})",
                [start],
            )
    except duckdb.IOException:  # no warehouse file yet: nothing is in force
        return result

    def as_set(rows: pd.DataFrame) -> dict[str, set[tuple]]:
        rows = rows[[entity, *values]].astype(object)
        rows = rows.where(rows.notna(), None)
        out: dict[str, set[tuple]] = {}
        for row in rows.itertuples(index=False):
            out.setdefault(row[0], set()).add(tuple(row[1:]))
        return out

    before, now = as_set(in_force), as_set(opening)
    restated = [i for i, rows in now.items() if before.get(i) == rows]
    if not restated:
        return result
    keep = frame[~((frame[when] == start) & frame[entity].isin(restated))]
    return FetchResult(dataset, keep, result.source, result.failures, result.ignored_ids)


def record_splits(result: FetchResult, warehouse: Warehouse, loaded_at: datetime) -> int:
    """The splits the source reported for the ids it delivered, into raw.corporate_actions: a split
    reported again replaces its row (its ratio or source may have been corrected), others stay."""
    actions = result.actions
    if actions is None or actions.empty:
        return 0
    actions = actions[actions["symbol"].isin(set(result.frame[result.dataset.entity_column]))]
    actions = actions.drop_duplicates(["symbol", "ex_date", "action"], keep="last")
    if actions.empty:
        return 0
    with warehouse.session() as wh:
        wh.execute(CORPORATE_ACTIONS.ddl())
        wh.register("ctr_reported_splits", actions.assign(source=actions["source"].fillna(result.source)))
        try:
            wh.execute(f"delete from {CORPORATE_ACTIONS.table} as t using ctr_reported_splits as n"
                       " where t.symbol = n.symbol and t.ex_date = n.ex_date and t.action = n.action")
            wh.execute(f"insert into {CORPORATE_ACTIONS.table} select symbol, ex_date, action, ratio, source, ?"
                       " from ctr_reported_splits", [loaded_at])
        finally:
            wh.unregister("ctr_reported_splits")
    return len(actions)


def summarise_failures(dataset: Dataset, failures: dict[str, str]) -> list[str]:
    """One line per distinct reason, so a header-only file or a dead host reads as one sentence."""
    by_reason: dict[str, list[str]] = {}
    for i, why in failures.items():
        by_reason.setdefault(why, []).append(i)
    return [
        f"{dataset.name}: {len(ids)} id(s) not loaded, their rows in {dataset.table} are kept as they were:"
        f" {why} ({', '.join(sorted(ids)[:8])}{', ...' if len(ids) > 8 else ''})"
        for why, ids in by_reason.items()
    ]


def raw_asset_key(dataset: Dataset) -> list[str]:
    return ["raw", dataset.name]


def _build_raw_asset(dataset: Dataset, partitions_def: PartitionsDefinition) -> AssetsDefinition:
    @asset(
        key=raw_asset_key(dataset),
        description=f"{dataset.description} Table `{dataset.table}`.",
        group_name="raw",
        kinds={"duckdb", "python"},
        partitions_def=partitions_def,
        # A backfill is one run asking each provider for the whole range at once.
        backfill_policy=BackfillPolicy.single_run(),
        metadata={"table": dataset.table, "key": ", ".join(dataset.key)},
    )
    def _raw(
        context: AssetExecutionContext, config: RawLoadConfig, provider: MarketDataProvider, warehouse: Warehouse
    ) -> MaterializeResult:
        window = context.partition_time_window
        start, end = window.start.date(), (window.end - timedelta(days=1)).date()
        ids = requested_ids(dataset, config.calendars)
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        # A large snapshot file goes to the warehouse inside DuckDB; anything else through a frame.
        fetched = provider.fetch_query(dataset, ids, start, end)
        held = None
        if fetched is None:
            fetched = provider.fetch(dataset, ids, start, end)
            if not provider.all_or_nothing:
                fetched, held = quarantine(fetched, start, end, first_days(dataset, ids, start))
            fetched = screen(fetched, ids, provider.all_or_nothing)
            fetched = drop_restatements(fetched, warehouse, start)
        if fetched.ignored_ids:
            context.log.warning(
                f"{dataset.name}: {len(fetched.ignored_ids)} id(s) in {fetched.source} are not configured and were"
                f" ignored: {', '.join(fetched.ignored_ids[:10])}{' ...' if len(fetched.ignored_ids) > 10 else ''}"
                " (add them to the seeds in dbt_project/seeds/ to load them)"
            )
        for line in summarise_failures(dataset, fetched.failures):
            context.log.warning(line)
        if isinstance(fetched, QueryFetch):
            written = write_from_query(fetched, warehouse, ids, start, end, loaded_at)
        else:
            written = warehouse.replace_window(fetched, ids, start, end, loaded_at=loaded_at,
                                               keep=held.withheld if held else ())
        splits = record_splits(fetched, warehouse, loaded_at) if isinstance(fetched, FetchResult) else 0
        if held is not None:
            with warehouse.session() as wh:
                audit_log.record_quarantine(wh, context.run.run_id, dataset.name,
                                            held.records())
            if len(held):
                context.log.warning(f"{dataset.name}: {len(held)} value(s) quarantined, see audit.quarantine:"
                                    f" {held.summary()}")
            for entity_id, days in held.missing.items():
                context.log.warning(f"{dataset.name}: {entity_id} has no bar for {len(days)} session(s) of its"
                                    f" exchange in {start}..{end}: {', '.join(map(str, days[:10]))}"
                                    " (recorded in audit.quarantine; the marts carry the previous close over them)")
        no_rows = sorted(set(written.ids_replaced) - set(written.ids_loaded))
        return MaterializeResult(
            metadata={
                "source": fetched.source,
                "calendars": ", ".join(config.calendars) or "all",
                "window": f"{start}..{end}",
                "rows_written": written.rows_written,
                "rows_replaced": written.rows_replaced,
                "first_date": MetadataValue.text(str(written.first_date or "none")),
                "last_date": MetadataValue.text(str(written.last_date or "none")),
                "ids_loaded": len(written.ids_loaded),
                "ids_without_rows_in_window": MetadataValue.text(", ".join(no_rows) or "none"),
                "ids_failed": MetadataValue.json(fetched.failures),
                "values_quarantined": held.values if held is not None else 0,
                "splits_reported": splits,
                "bars_missing": MetadataValue.json(
                    {i: [str(d) for d in days] for i, days in (held.missing if held is not None else {}).items()}),
            }
        )

    return _raw


def build_raw_assets(partitions_def: PartitionsDefinition) -> list[AssetsDefinition]:
    return [_build_raw_asset(dataset, partitions_def) for dataset in DATASETS]


@definitions
def defs() -> Definitions:
    return Definitions(assets=build_raw_assets(current().partitions_def))
