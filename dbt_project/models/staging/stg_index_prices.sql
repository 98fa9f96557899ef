with

source as (

    select * from {{ source('raw', 'index_prices') }}

),

renamed as (

    select
        upper(trim(index_id)) as index_id,
        cast(trade_date as date) as trade_date,
        cast(close as double) as close,
        cast(open as double) as open,
        cast(high as double) as high,
        cast(low as double) as low,
        cast(volume as double) as volume,
        source.source as provider,
        loaded_at

    from source

    where index_id is not null
        and trade_date is not null
        and close is not null

),

deduplicated as (

    {{ newest_load('renamed', ['index_id', 'trade_date']) }}

)

select * from deduplicated
