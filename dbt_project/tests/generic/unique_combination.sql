{#- Fails for every combination of the given columns that occurs more than once (the grain of a
    table with a compound key). NULLs compare equal here, so NULL keys cannot hide duplicates. A
    windowed run reads only its window's rows (get_where_subquery, macros/incremental_window.sql). -#}
{% test unique_combination(model, combination_of_columns) %}

    {%- set columns = combination_of_columns | join(', ') -%}

    select
        {{ columns }},
        count(*) as occurrences

    from {{ model }}
    group by {{ columns }}
    having count(*) > 1

{% endtest %}
