{#- Fails for every row where the boolean SQL expression is false. A NULL result passes: pair with
    not_null tests where NULL must fail too. -#}
{% test expression_is_true(model, expression, column_name=none) %}

    select *

    from {{ model }}
    where not ({{ expression }})

{% endtest %}
