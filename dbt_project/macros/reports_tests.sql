{#
  Generic data tests of the report marts (keys across tenants: relationships_within_tenant in
  tests/generic).
#}

{# Rows where column_name lies outside [min_value, max_value] (either bound optional). #}
{% test reports_between(model, column_name, min_value=none, max_value=none) %}
    select {{ column_name }}
    from {{ model }}
    where
        {%- if min_value is not none %} {{ column_name }} < {{ min_value }}{% endif %}
        {%- if min_value is not none and max_value is not none %} or{% endif %}
        {%- if max_value is not none %} {{ column_name }} > {{ max_value }}{% endif %}
{% endtest %}

{# Rows where the parts do not add up to column_name (within `tolerance`, for rounding). #}
{% test reports_sum_of_parts(model, column_name, parts, tolerance=0.0001) %}
    select {{ column_name }}, {{ parts | join(', ') }}
    from {{ model }}
    where abs({{ column_name }} - ({{ parts | join(' + ') }})) > {{ tolerance }}
{% endtest %}
