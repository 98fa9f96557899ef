{#- The newest load of each key of a raw table. Raw keys are unique by construction; this keeps a
    re-delivered row from ever doubling a price or a share count if that slips. -#}
{% macro newest_load(relation, key_columns) -%}
    select *
    from {{ relation }}
    qualify row_number() over (partition by {{ key_columns | join(', ') }} order by loaded_at desc) = 1
{%- endmacro %}
