{#
  Calendar helpers for dim_date, in portable SQL (no dbt_utils, no generate_series, no
  recursive CTE, no engine-specific date parts).
#}

{#
  One row per day from start_date to end_date inclusive, as `date_day`. Both arguments are SQL
  expressions (literals or scalar subqueries). Numbers come from five cross-joined digit lists,
  so a spine spans at most 100,000 days (273 years).
#}
{% macro day_spine(start_date, end_date) -%}
    with digits as (
        {% for d in range(10) -%}
        select {{ d }} as digit{{ ' union all' if not loop.last }}
        {% endfor %}
    ),

    numbers as (
        select ones.digit + 10 * tens.digit + 100 * hundreds.digit
               + 1000 * thousands.digit + 10000 * ten_thousands.digit as day_offset
        from digits as ones
        cross join digits as tens
        cross join digits as hundreds
        cross join digits as thousands
        cross join digits as ten_thousands
    ),

    bounds as (
        select {{ start_date }} as first_day, {{ end_date }} as last_day
    )

    select {{ dbt.cast(dbt.dateadd('day', 'numbers.day_offset', 'bounds.first_day'), 'date') }} as date_day
    from numbers
    cross join bounds
    where numbers.day_offset <= {{ dbt.datediff('bounds.first_day', 'bounds.last_day', 'day') }}
{%- endmacro %}

{# ISO day of week, 1 = Monday .. 7 = Sunday, counted from a known Monday (1900-01-01). #}
{% macro iso_day_of_week(date_expr) -%}
    (mod({{ dbt.datediff("cast('1900-01-01' as date)", date_expr, 'day') }}, 7) + 1)
{%- endmacro %}

{# Monday of the ISO week containing the day. #}
{% macro iso_week_start(date_expr) -%}
    {{ dbt.cast(dbt.dateadd('day', '1 - ' ~ iso_day_of_week(date_expr), date_expr), 'date') }}
{%- endmacro %}

{#
  ISO 8601 week-numbering year and week: a week belongs to the year its Thursday is in, and
  week 1 is the week holding the year's first Thursday.
#}
{% macro iso_week_thursday(date_expr) -%}
    {{ dbt.cast(dbt.dateadd('day', '4 - ' ~ iso_day_of_week(date_expr), date_expr), 'date') }}
{%- endmacro %}

{% macro iso_year(date_expr) -%}
    extract(year from {{ iso_week_thursday(date_expr) }})
{%- endmacro %}

{% macro iso_week_of_year(date_expr) -%}
    {%- set thursday = iso_week_thursday(date_expr) -%}
    (floor({{ dbt.datediff(dbt.cast(dbt.date_trunc('year', thursday), 'date'), thursday, 'day') }} / 7) + 1)
{%- endmacro %}
