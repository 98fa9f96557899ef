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

    -- raw keys are unique by construction; this keeps the newest load if that ever slips
    select *
    from renamed
    qualify row_number() over (partition by symbol, as_of_date order by loaded_at desc) = 1

)

select * from deduplicated
