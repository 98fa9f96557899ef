{#- The benchmark_ids var as a SQL list of upper-case string literals: ('NDX', ...).
    Accepts a list or a single id, since `--vars '{benchmark_ids: NDX}'` is an easy mistake. -#}
{% macro benchmark_id_list() -%}
    {%- set ids = var('benchmark_ids', ['NDX']) -%}
    {%- if ids is string -%}{%- set ids = [ids] -%}{%- endif -%}
    {%- if ids | length == 0 -%}
        {{ exceptions.raise_compiler_error("var benchmark_ids must name at least one index_id") }}
    {%- endif -%}
    {#- quotes doubled: the ids are configuration, pasted into SQL as string literals -#}
    ({%- for id in ids -%}'{{ id | trim | upper | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%})
{%- endmacro %}

{#- A list var as a DuckDB list of string literals: ['a', 'b'] (quotes doubled: configuration pasted into SQL). -#}
{% macro var_list(name) -%}
    {%- set values = var(name) -%}
    {%- if values is string -%}{%- set values = [values] -%}{%- endif -%}
    [{%- for v in values -%}'{{ v | trim | replace("'", "''") }}'{{ ", " if not loop.last }}{%- endfor -%}]::varchar[]
{%- endmacro %}
