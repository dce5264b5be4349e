{#
  Named types for the project's numbers, so precision is decided in one place and stays
  portable (api.Column renders the adapter's spelling).

  The sizes follow the landing contracts (data_contracts/*.yaml: `decimals`, `integer_digits`):
  quantities and unit costs carry up to 6 decimals and 12 digits before the point, because real
  catalogues send per-piece and per-metre costs such as 0.120743. Ingestion quarantines what does
  not fit, so no value is ever rounded on its way in; these types keep it exact on its way through.
#}

{# Quantities as the operational platform sends them: numeric(18,6). #}
{% macro type_quantity() -%}
    {{ return(api.Column.numeric_type("numeric", 18, 6)) }}
{%- endmacro %}

{# Unit costs as the operational platform sends them: numeric(18,6). #}
{% macro type_unit_cost() -%}
    {{ return(api.Column.numeric_type("numeric", 18, 6)) }}
{%- endmacro %}

{# Everything derived in marts (sums, values, shares, averages): numeric(38,12). A value is a
   quantity times a cost, 6 + 6 decimals, so 12 keep it exact, and 26 digits before the point
   hold any product the contracts allow (12 + 12 digits) and sums of them. Shares and averages
   are divisions and cannot be exact; they keep 12 decimals. #}
{% macro type_amount() -%}
    {{ return(api.Column.numeric_type("numeric", 38, 12)) }}
{%- endmacro %}

{# a x b, exactly, for operands of at most 6 decimals (quantities, unit costs and their sums).
   Standard SQL and Spark widen a product (numeric(18,6) x numeric(18,6) is exact there); DuckDB
   keeps the wider operand's width, so numeric(18,6) x numeric(18,6) is numeric(18,12) and fails
   beyond 6 digits before the point: it multiplies numeric(38,6) operands instead. #}
{% macro exact_product(a, b) -%}
    {{ return(adapter.dispatch('exact_product', 'mira')(a, b)) }}
{%- endmacro %}

{% macro default__exact_product(a, b) -%}
    ({{ dbt.cast(a, type_quantity()) }} * {{ dbt.cast(b, type_quantity()) }})
{%- endmacro %}

{% macro duckdb__exact_product(a, b) -%}
    {%- set wide = api.Column.numeric_type("numeric", 38, 6) -%}
    ({{ dbt.cast(a, wide) }} * {{ dbt.cast(b, wide) }})
{%- endmacro %}

{# Instants (load and build times) in marts. There is no dbt cross-database macro for a
   time-zone-aware timestamp; the SQL standard spelling works on DuckDB and Postgres. #}
{% macro type_timestamp_tz() -%}
    {{ return(adapter.dispatch('type_timestamp_tz', 'mira')()) }}
{%- endmacro %}

{% macro default__type_timestamp_tz() -%}
    timestamp with time zone
{%- endmacro %}

{# Spark has one timestamp type, an instant shown in the session's time zone (UTC in profiles.yml). #}
{% macro spark__type_timestamp_tz() -%}
    timestamp
{%- endmacro %}

{# a / b as DuckDB divides: in double precision (DOUBLE is what DuckDB gives for a division of
   decimals or integers), so the shares and averages of the marts come out the same on every
   engine. Spark divides decimals in decimal, cutting the scale to 6 digits: it is handed doubles. #}
{% macro mira_divide(a, b) -%}
    {{ return(adapter.dispatch('mira_divide', 'mira')(a, b)) }}
{%- endmacro %}

{% macro default__mira_divide(a, b) -%}
    ({{ a }}) / ({{ b }})
{%- endmacro %}

{% macro spark__mira_divide(a, b) -%}
    (cast({{ a }} as double) / cast({{ b }} as double))
{%- endmacro %}
