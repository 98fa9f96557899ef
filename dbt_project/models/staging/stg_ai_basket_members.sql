with

source as (

    select * from {{ ref('ai_basket_members') }}

),

renamed as (

    select
        upper(trim(basket_id)) as basket_id,
        trim(symbol) as symbol,
        trim(name) as name,
        trim(subsector) as subsector,
        upper(trim(currency)) as currency,
        upper(trim(calendar)) as calendar,
        cast(listed_on as date) as listed_on

    from source

)

select * from renamed
