{#- The reference dates behind the period returns. Every look-back in the project goes through these
    macros so index returns, benchmark returns and the basket's one-year change agree exactly. -#}

{#- First day of d's month: the MTD anchor is the last close strictly before it. -#}
{% macro month_start(date_expr) -%}
    cast(date_trunc('month', {{ date_expr }}) as date)
{%- endmacro %}

{#- January 1 of d's year: the YTD anchor is the last close strictly before it. -#}
{% macro year_start(date_expr) -%}
    make_date(year({{ date_expr }}), 1, 1)
{%- endmacro %}

{#- The same calendar day one year earlier; Feb 29 has no such day and maps to Feb 28.
    Spelled out rather than left to interval arithmetic so the rule is visible and engine-independent. -#}
{% macro one_year_before(date_expr) -%}
    case
        when month({{ date_expr }}) = 2 and day({{ date_expr }}) = 29
            then make_date(year({{ date_expr }}) - 1, 2, 28)
        else make_date(year({{ date_expr }}) - 1, month({{ date_expr }}), day({{ date_expr }}))
    end
{%- endmacro %}

{#- The select of a look-back CTE: every row of `rows` with the close of `prices` in force at its
    anchor, as <prefix>_date and <prefix>_close (NULL before the entity's first close). A month or
    year end is the latest close strictly `before` the period's first day; a date one year back takes
    the close `on_or_before` it. Asked for by name so each look-back states which rule it uses. -#}
{% macro anchor_close(rows, prices, entity_column, prefix, before=none, on_or_before=none) -%}
    {%- if (before is none) == (on_or_before is none) -%}
        {{ exceptions.raise_compiler_error("anchor_close takes exactly one of before= and on_or_before=") }}
    {%- endif -%}
    select
        {{ rows }}.*,
        anchor.trade_date as {{ prefix }}_date,
        anchor.close as {{ prefix }}_close

    from {{ rows }}
    asof left join {{ prices }} as anchor
        on {{ rows }}.{{ entity_column }} = anchor.{{ entity_column }}
        {% if before is not none -%}
        and {{ rows }}.{{ before }} > anchor.trade_date
        {%- else -%}
        and {{ rows }}.{{ on_or_before }} >= anchor.trade_date
        {%- endif %}
{%- endmacro %}

{#- The three look-back CTEs, previous_month_end, previous_year_end and one_year_back, each adding its
    anchor close to the rows before it: one definition, so an index's own returns and a benchmark's
    returns on that index's calendar are anchored alike. `rows` carries month_start_date,
    year_start_date and one_year_back_target_date; `prefix` names the added columns. -#}
{% macro period_anchor_closes(rows, prices, entity_column, prefix='') -%}
previous_month_end as (

    -- the previous month's last trading day, which is not the calendar month end when that fell on
    -- a weekend or holiday
    {{ anchor_close(rows, prices, entity_column, prefix ~ 'prev_month_end', before='month_start_date') }}

),

previous_year_end as (

    {{ anchor_close('previous_month_end', prices, entity_column, prefix ~ 'prev_year_end', before='year_start_date') }}

),

one_year_back as (

    -- as of the same calendar day a year earlier: that day's close, or the last one before it
    {{ anchor_close('previous_year_end', prices, entity_column, prefix ~ 'one_year_back', on_or_before='one_year_back_target_date') }}

)
{%- endmacro %}

{#- The same calendar day n months earlier, clamped to the month's end (Mar 31 - 1 month = Feb 28/29),
    so 12 months back agrees with one_year_before (Feb 29 -> Feb 28). -#}
{% macro months_before(date_expr, n) -%}
    cast({{ date_expr }} - interval {{ n }} month as date)
{%- endmacro %}
