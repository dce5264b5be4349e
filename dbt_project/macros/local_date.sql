{#
  The calendar day of a TIMESTAMPTZ in the reporting time zone (var mira_timezone).

  A plain cast to date would use the session time zone, which DuckDB takes from the machine,
  so the same data would give different days on a laptop and on a server. There is no dbt
  cross-database macro for time-zone conversion, so this dispatches per adapter.
#}
{% macro local_date(timestamp_tz, tz=none) -%}
    {{ return(adapter.dispatch('local_date', 'mira')(timestamp_tz, tz or var('mira_timezone'))) }}
{%- endmacro %}

{% macro default__local_date(timestamp_tz, tz) -%}
    {{ dbt.cast("convert_timezone('" ~ tz ~ "', " ~ timestamp_tz ~ ")", "date") }}
{%- endmacro %}

{% macro duckdb__local_date(timestamp_tz, tz) -%}
    {{ dbt.cast("timezone('" ~ tz ~ "', " ~ timestamp_tz ~ ")", "date") }}
{%- endmacro %}

{# Spark's timestamp is an instant; from_utc_timestamp gives its wall-clock time in the zone. #}
{% macro spark__local_date(timestamp_tz, tz) -%}
    to_date(from_utc_timestamp({{ timestamp_tz }}, '{{ tz }}'))
{%- endmacro %}
