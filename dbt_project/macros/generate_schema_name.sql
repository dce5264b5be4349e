{#
  Use the +schema config as the exact schema name (staging, marts) instead of dbt's default
  <target schema>_<custom schema> (main_staging), so SQL users, publish and the dashboards
  see the same names in every environment.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
