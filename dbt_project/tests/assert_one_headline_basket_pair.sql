-- Exactly one basket, with a compare_with, is the headline pair that fct_ai_market_cap_ratio reports:
-- none would leave the contract mart empty, two would give it two rows per date.

with

headline as (

    select * from {{ ref('stg_baskets') }}
    where is_headline

)

select count(*) as headline_baskets, count(compare_with) as with_a_comparison
from headline
having count(*) <> 1 or count(compare_with) <> 1
