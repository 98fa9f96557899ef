-- Every symbol the warehouse knows: AI basket members (described by the seed), index constituents
-- (named from their latest constituent row) and anything else with prices. Basket members take the
-- seed's attributes; other symbols get what the raw data says and NULL where it says nothing.

with

basket_members as (

    select * from {{ ref('stg_ai_basket_members') }}

),

constituents as (

    select * from {{ ref('stg_index_constituents') }}

),

stock_prices as (

    -- raw, not stg_stock_prices: the coverage of each symbol is two aggregates, which need no
    -- deduplication of 20M rows first (stg's newest-load rule is applied below, where it matters)
    select
        trim(symbol) as symbol,
        cast(trade_date as date) as trade_date,
        upper(trim(currency)) as currency,
        loaded_at

    from {{ source('raw', 'stock_prices') }}
    where symbol is not null
        and trade_date is not null
        and close is not null

),

latest_constituent_names as (

    select
        symbol,
        name

    from constituents
    where name is not null
    qualify row_number() over (partition by symbol order by as_of_date desc, index_id) = 1

),

latest_snapshots as (

    select
        index_id,
        max(as_of_date) as as_of_date

    from constituents
    group by index_id

),

current_memberships as (

    -- the indices whose latest constituent list holds the symbol
    select
        constituents.symbol,
        string_agg(constituents.index_id, ',' order by constituents.index_id) as constituent_index_ids

    from constituents
    inner join latest_snapshots
        on constituents.index_id = latest_snapshots.index_id
        and constituents.as_of_date = latest_snapshots.as_of_date
    group by constituents.symbol

),

price_coverage as (

    select
        symbol,
        min(trade_date) as first_trade_date,
        max(trade_date) as last_trade_date,
        -- the currency of the newest load of the latest date, as stg_stock_prices keeps it
        arg_max(currency, struct_pack(trade_date, loaded_at)) as latest_currency

    from stock_prices
    group by symbol

),

all_symbols as (

    select symbol from basket_members
    union
    select symbol from constituents
    union
    select symbol from price_coverage

),

final as (

    select
        all_symbols.symbol,
        coalesce(basket_members.name, latest_constituent_names.name) as name,
        basket_members.basket_id,
        basket_members.basket_id is not null as is_ai_basket_member,
        basket_members.subsector,
        coalesce(basket_members.currency, price_coverage.latest_currency) as currency,
        basket_members.calendar,
        basket_members.listed_on,
        current_memberships.constituent_index_ids,
        price_coverage.first_trade_date,
        price_coverage.last_trade_date

    from all_symbols
    left join basket_members
        on all_symbols.symbol = basket_members.symbol
    left join latest_constituent_names
        on all_symbols.symbol = latest_constituent_names.symbol
    left join current_memberships
        on all_symbols.symbol = current_memberships.symbol
    left join price_coverage
        on all_symbols.symbol = price_coverage.symbol

)

select * from final
