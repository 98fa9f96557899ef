{#- Fails for every row where the boolean SQL expression is false. A NULL result passes: pair with
    not_null tests where NULL must fail too. `window_column`: as in unique_combination. -#}
{% test expression_is_true(model, expression, column_name=none, window_column=none) %}

    select *

    from {{ model }}
    where not ({{ expression }})
        and {{ in_test_window(window_column) }}

{% endtest %}
