-- The calendar over the days the ledger covers (first to last movement day, all tenants).
with spine as (
    {{ day_spine(
        "(select min(movement_date) from " ~ ref('fct_stock_movements') ~ ")",
        "(select max(movement_date) from " ~ ref('fct_stock_movements') ~ ")"
    ) }}
),

parts as (
    select
        date_day,
        {{ iso_day_of_week('date_day') }} as day_of_week
    from spine
)

select
    {{ dbt.cast('date_day', 'date') }}                                              as date_day,
    {{ dbt.cast('extract(year from date_day)', dbt.type_int()) }}                   as year_number,
    {{ dbt.cast('extract(month from date_day)', dbt.type_int()) }}                  as month_of_year,
    {{ dbt.cast(dbt.date_trunc('month', 'date_day'), 'date') }}                     as month_start_date,
    {{ dbt.cast(iso_year('date_day'), dbt.type_int()) }}                            as iso_year_number,
    {{ dbt.cast(iso_week_of_year('date_day'), dbt.type_int()) }}                    as iso_week_of_year,
    {{ iso_week_start('date_day') }}                                                as iso_week_start_date,
    {{ dbt.cast('day_of_week', dbt.type_int()) }}                                   as day_of_week,
    {{ dbt.cast(
        "case day_of_week when 1 then 'Monday' when 2 then 'Tuesday' when 3 then 'Wednesday'
         when 4 then 'Thursday' when 5 then 'Friday' when 6 then 'Saturday' else 'Sunday' end",
        dbt.type_string()) }}                                                       as day_of_week_name,
    {{ dbt.cast('day_of_week >= 6', dbt.type_boolean()) }}                          as is_weekend
from parts
