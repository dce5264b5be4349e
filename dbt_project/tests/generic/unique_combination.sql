{#
  Rows that share the same values in all the given columns (the dbt_utils test of a similar
  name is out of reach: dbt deps cannot reach the package hub here). NULLs compare equal,
  as in GROUP BY, so a null project in a mart's grain still counts as one value.
#}
{% test unique_combination(model, combination_of_columns) %}
    {%- set columns = combination_of_columns | join(', ') %}
    select {{ columns }}, count(*) as n_rows
    from {{ model }}
    group by {{ columns }}
    having count(*) > 1
{% endtest %}
