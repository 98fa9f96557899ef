-- The FX rates every USD figure of the marts is converted with, as loaded: one row per currency and
-- day with a rate. A value "as of d" is the latest row with trade_date <= d; USD has no rows (1).

with

fx_rates as (

    select * from {{ ref('stg_fx_rates') }}

),

final as (

    select
        currency,
        trade_date,
        usd_per_unit,
        1 / usd_per_unit as units_per_usd

    from fx_rates

)

select * from final
