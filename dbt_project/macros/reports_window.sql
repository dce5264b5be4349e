{#
  The report marts' shared notion of "now" and "recently".

  Reports are computed as of each tenant's latest movement date, not the clock: rebuilding the
  same data gives the same figures (tests, reruns, yesterday's snapshot), and a tenant whose
  exports stopped (terminated, or a broken upload) is reported at its own last day instead of
  decaying towards zero use while nothing is known.
#}

{#
  One row per tenant: as_of_date (latest movement day) and first_movement_date (earliest).
  Read from fct_stock_levels_daily, which has a row for every day a ledger leg was booked, so
  its days are the ledger's days, in a table a third of the ledger's size.
#}
{% macro reports_as_of_dates() -%}
    select
        tenant_id,
        max(stock_date) as as_of_date,
        min(stock_date) as first_movement_date
    from {{ tenant_ref('fct_stock_levels_daily') }}
    group by tenant_id
{%- endmacro %}

{# Length of the "recent use" window in days (var mira_use_window_days, default 90: a quarter,
   long enough to smooth weekly rhythm, short enough to follow a season). #}
{% macro reports_use_window_days() -%}
    {{ return(var('mira_use_window_days', 90) | int) }}
{%- endmacro %}

{# True when date_column lies in the window of the last `days` days ending on as_of (inclusive). #}
{% macro reports_in_window(date_column, as_of, days) -%}
    ({{ date_column }} <= {{ as_of }}
     and {{ date_column }} > {{ dbt.cast(dbt.dateadd('day', -days, as_of), 'date') }})
{%- endmacro %}

{# Whole days from a date to the as-of date. #}
{% macro reports_days_between(start_date, end_date) -%}
    {{ dbt.datediff(start_date, end_date, 'day') }}
{%- endmacro %}

{# x clamped to [low, high] with plain CASE (greatest/least are missing on some engines);
   pass none to leave a side open. #}
{% macro reports_clamp(x, low=none, high=none) -%}
    case
        {%- if low is not none %} when {{ x }} < {{ low }} then {{ low }}{% endif %}
        {%- if high is not none %} when {{ x }} > {{ high }} then {{ high }}{% endif %}
        else {{ x }}
    end
{%- endmacro %}
