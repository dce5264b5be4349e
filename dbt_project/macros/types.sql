{#
  Named types for the project's numbers, so precision is decided in one place and stays
  portable (api.Column renders the adapter's spelling).
#}

{# Quantities and unit costs as the operational platform sends them. #}
{% macro type_quantity() -%}
    {{ return(api.Column.numeric_type("numeric", 18, 4)) }}
{%- endmacro %}

{# Sums and values in marts: dbt's portable numeric, numeric(28,6). #}
{% macro type_amount() -%}
    {{ return(dbt.type_numeric()) }}
{%- endmacro %}

{# Instants (load and build times) in marts. There is no dbt cross-database macro for a
   time-zone-aware timestamp; the SQL standard spelling works on DuckDB and Postgres. #}
{% macro type_timestamp_tz() -%}
    {{ return(adapter.dispatch('type_timestamp_tz', 'mira')()) }}
{%- endmacro %}

{% macro default__type_timestamp_tz() -%}
    timestamp with time zone
{%- endmacro %}
