with

source as (

    select * from {{ source('raw', 'fx_rates') }}

),

renamed as (

    select
        upper(trim(currency)) as currency,
        cast(trade_date as date) as trade_date,
        cast(usd_per_unit as double) as usd_per_unit,
        source.source as provider,
        loaded_at

    from source

    where currency is not null
        and trade_date is not null
        and usd_per_unit is not null

),

deduplicated as (

    {{ newest_load('renamed', ['currency', 'trade_date']) }}

)

select * from deduplicated
