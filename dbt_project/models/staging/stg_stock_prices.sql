with

source as (

    select * from {{ source('raw', 'stock_prices') }}

),

renamed as (

    select
        trim(symbol) as symbol,
        cast(trade_date as date) as trade_date,
        cast(close as double) as close,
        upper(trim(currency)) as currency,
        cast(open as double) as open,
        cast(high as double) as high,
        cast(low as double) as low,
        cast(volume as double) as volume,
        source.source as provider,
        loaded_at

    from source

    where symbol is not null
        and trade_date is not null
        and close is not null

),

deduplicated as (

    {{ newest_load('renamed', ['symbol', 'trade_date']) }}

)

select * from deduplicated
