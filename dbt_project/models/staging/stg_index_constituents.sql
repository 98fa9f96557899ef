with

source as (

    select * from {{ source('raw', 'index_constituents') }}

),

renamed as (

    select
        upper(trim(index_id)) as index_id,
        trim(symbol) as symbol,
        cast(as_of_date as date) as as_of_date,
        nullif(trim(name), '') as name,
        cast(weight as double) as weight,
        source.source as provider,
        loaded_at

    from source

    where index_id is not null
        and symbol is not null
        and as_of_date is not null

),

deduplicated as (

    {{ newest_load('renamed', ['index_id', 'symbol', 'as_of_date']) }}

)

select * from deduplicated
