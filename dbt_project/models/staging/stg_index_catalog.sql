with

source as (

    select * from {{ ref('index_catalog') }}

),

renamed as (

    select
        upper(trim(index_id)) as index_id,
        trim(name) as name,
        upper(trim(market)) as market,
        upper(trim(currency)) as currency,
        upper(trim(calendar)) as calendar,
        lower(trim(role)) as role,
        nullif(trim(akshare_symbol), '') as akshare_symbol,
        nullif(trim(akshare_em_symbol), '') as akshare_em_symbol,
        nullif(trim(yahoo_symbol), '') as yahoo_symbol,
        cast(constituent_count as integer) as constituent_count

    from source

)

select * from renamed
