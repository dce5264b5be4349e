{#
  Rows that share the same values in all the given columns (the dbt_utils test of a similar
  name is out of reach: dbt deps cannot reach the package hub here). NULLs compare equal,
  as in GROUP BY, so a null project in a mart's grain still counts as one value.

  When `model` is only some of the table's rows (macros/test_scope.sql: the rows a build wrote),
  their keys are looked up in the whole table, so a written row that repeats the key of a row
  the build kept fails too. The scan of the whole table reads the key columns only, and the
  engine can skip blocks whose key ranges miss the written keys.
#}
{% test unique_combination(model, combination_of_columns) %}
    {%- set columns = combination_of_columns | join(', ') %}
    {%- set whole = mira_tested_relation() if execute else none %}
    {%- if whole is not none and model is string %}
    with written as (
        select distinct {{ columns }}
        from {{ model }}
    )

    select {% for c in combination_of_columns %}whole_table.{{ c }}, {% endfor %}count(*) as n_rows
    from {{ whole }} as whole_table
    inner join written
        on {% for c in combination_of_columns -%}
           whole_table.{{ c }} is not distinct from written.{{ c }}{{ ' and ' if not loop.last }}
           {%- endfor %}
    group by {% for c in combination_of_columns %}whole_table.{{ c }}{{ ', ' if not loop.last }}{% endfor %}
    having count(*) > 1
    {%- else %}
    select {{ columns }}, count(*) as n_rows
    from {{ model }}
    group by {{ columns }}
    having count(*) > 1
    {%- endif %}
{% endtest %}
