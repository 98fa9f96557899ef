{#- Fails for every combination of the given columns that occurs more than once (the grain of a
    table with a compound key). NULLs compare equal here, so NULL keys cannot hide duplicates.
    `window_column`: on a table the incremental runs rewrite by date, an incremental run checks only
    the rows dated in its window (macros/incremental_window.sql, in_test_window). -#}
{% test unique_combination(model, combination_of_columns, window_column=none) %}

    {%- set columns = combination_of_columns | join(', ') -%}

    select
        {{ columns }},
        count(*) as occurrences

    from {{ model }}
    where {{ in_test_window(window_column) }}
    group by {{ columns }}
    having count(*) > 1

{% endtest %}
