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
    -- A row that only restates the rate already in force adds nothing (the raw load's own rule for a
    -- window's carried-in opening rate, which two windows loading at once on a lake cannot apply).
    qualify usd_per_unit is distinct from lag(usd_per_unit) over (partition by currency order by trade_date)

)

select * from final
