{#- True where two doubles differ beyond float noise; NULL against non-NULL differs, NULL against NULL
    does not. Sums of a few dozen values in the 1e9..1e12 range: anything past 1e-9 relative is real.
    `scale`: the magnitude the noise is relative to when it is not b's own, as for a difference of two
    large totals (its rounding is relative to the totals, not to the difference). -#}
{% macro differs(a, b, relative_tolerance=1e-9, scale=none) -%}
    ((({{ a }}) is null) <> (({{ b }}) is null)
        or abs(({{ a }}) - ({{ b }})) > {{ relative_tolerance }} * greatest(1, abs({{ b if scale is none else scale }})))
{%- endmacro %}
