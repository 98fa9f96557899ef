{#- A list var as a DuckDB list of string literals: ['a', 'b'] (quotes doubled: configuration pasted into SQL). -#}
{% macro var_list(name) -%}
    {%- set values = var(name) -%}
    {%- if values is string -%}{%- set values = [values] -%}{%- endif -%}
    [{%- for v in values -%}'{{ v | trim | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%}]::varchar[]
{%- endmacro %}
