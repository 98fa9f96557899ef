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
