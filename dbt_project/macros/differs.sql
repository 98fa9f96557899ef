{#- True where two doubles differ beyond float noise; NULL against non-NULL differs, NULL against NULL
    does not. Sums of a few dozen values in the 1e9..1e12 range: anything past 1e-9 relative is real. -#}
{% macro differs(a, b, relative_tolerance=1e-9) -%}
    ((({{ a }}) is null) <> (({{ b }}) is null)
        or abs(({{ a }}) - ({{ b }})) > {{ relative_tolerance }} * greatest(1, abs({{ b }})))
{%- endmacro %}
