{#- The long form of relative performance, shared by fct_relative_performance (local currency) and
    fct_relative_performance_usd: one row per (index, benchmark, date, period) from a relation holding each
    side's MTD, YTD and 1Y return, with the excess and the verdict. Arithmetic and comparison with NULL stay
    NULL: no verdict when either side is unknown. -#}
{% macro relative_performance_periods(paired, suffix='') %}
{%- set periods = [('MTD', 'mtd_return'), ('YTD', 'ytd_return'), ('1Y', 'trailing_1y_return')] -%}
select
    index_id,
    benchmark_id,
    trade_date,
    period,
    index_return,
    benchmark_return,
    index_return - benchmark_return as excess_return,
    index_return - benchmark_return > 0 as outperformed
from (
    {%- for period, column in periods %}
    select index_id, benchmark_id, trade_date, '{{ period }}' as period,
        {{ column }}{{ suffix }} as index_return, benchmark_{{ column }}{{ suffix }} as benchmark_return
    from {{ paired }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
) as by_period
{% endmacro %}
