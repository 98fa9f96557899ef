with

source as (

    select * from {{ source('raw', 'shares_outstanding') }}

),

renamed as (

    select
        trim(symbol) as symbol,
        cast(as_of_date as date) as as_of_date,
        cast(shares_outstanding as double) as shares_outstanding,
        source.source as provider,
        loaded_at

    from source

    where symbol is not null
        and as_of_date is not null
        and shares_outstanding is not null

),

deduplicated as (

    {{ newest_load('renamed', ['symbol', 'as_of_date']) }}

)

select * from deduplicated
