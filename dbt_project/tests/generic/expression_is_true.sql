{#- Fails for every row where the boolean SQL expression is false. A NULL result passes: pair with
    not_null tests where NULL must fail too. A windowed run reads only its window's rows
    (get_where_subquery, macros/incremental_window.sql). -#}
{% test expression_is_true(model, expression, column_name=none) %}

    select *

    from {{ model }}
    where not ({{ expression }})

{% endtest %}
