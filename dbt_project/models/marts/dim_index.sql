with

index_catalog as (

    select * from {{ ref('stg_index_catalog') }}

),

index_prices as (

    select index_id, trade_date from {{ ref('stg_index_prices') }}

),

price_coverage as (

    select
        index_id,
        min(trade_date) as first_trade_date,
        max(trade_date) as last_trade_date,
        count(*) as trading_days

    from index_prices
    group by index_id

),

final as (

    select
        index_catalog.index_id,
        index_catalog.name,
        index_catalog.market,
        index_catalog.currency,
        index_catalog.calendar,
        index_catalog.role,
        index_catalog.role = 'benchmark' as is_benchmark,
        index_catalog.akshare_symbol,
        index_catalog.akshare_em_symbol,
        index_catalog.yahoo_symbol,
        price_coverage.first_trade_date,
        price_coverage.last_trade_date,
        coalesce(price_coverage.trading_days, 0) as trading_days

    from index_catalog
    left join price_coverage
        on index_catalog.index_id = price_coverage.index_id

)

select * from final
