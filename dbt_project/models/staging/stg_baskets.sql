with

source as (

    select * from {{ ref('baskets') }}

),

renamed as (

    select
        upper(trim(basket_id)) as basket_id,
        trim(name) as name,
        nullif(upper(trim(compare_with)), '') as compare_with,
        coalesce(cast(is_headline as boolean), false) as is_headline

    from source

)

select * from renamed
