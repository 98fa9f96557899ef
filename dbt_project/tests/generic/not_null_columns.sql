{#- Fails for every listed column that holds a NULL, with the number of NULL rows: the not-null
    requirements of one model as one test, read in one pass, where a not_null test per column reads
    the table once per column (and gives Dagster one check event per column). -#}
{% test not_null_columns(model, columns) %}

    with null_counts as (

        select
        {%- for column in columns %}
            count(*) filter (where {{ column }} is null) as "{{ column }}"{{ "," if not loop.last }}
        {%- endfor %}

        from {{ model }}

    )

    select column_name, null_rows
    from (unpivot null_counts on columns(*) into name column_name value null_rows)
    where null_rows > 0

{% endtest %}
