{#
  How well book stock matches the shelves, and what is lost, per location and month.

  A count leaves a trace only when it finds a difference (an adjustment); counts that agree
  are not exported, so "share of counts without difference" cannot be known. Accuracy is
  measured by value instead:

      count accuracy = 1 - sum |adjustment value| / sum counted value

  where the counted value is the value on hand of each counted material at that location at
  the end of the count day (after the correction, i.e. what was found), once per material and
  day however many corrections it had. 1 is perfect; a month whose corrections exceed what was
  found scores 0 (the share is clamped to [0, 1]); nothing found at all gives null.

  Shrinkage = stock that disappeared: the value of negative adjustments (missing at count) plus
  scrap (written off), both as positive amounts. Positive adjustments (found stock) are not
  netted against it; they are shown on their own.

  Values are the movements' value_delta (fct_stock_movements' valuation). The month is the
  first day of the calendar month of the movement day.
#}
{{ config(**tenant_incremental()) }}

with movements as (
    select
        tenant_id,
        location_id,
        material_id,
        movement_type,
        movement_date,
        {{ dbt.cast(dbt.date_trunc('month', 'movement_date'), 'date') }} as month_start,
        quantity_delta,
        value_delta
    from {{ tenant_ref('fct_stock_movements') }}
    where movement_type in ('adjustment', 'scrap')
),

counted_items as (
    select distinct tenant_id, location_id, material_id, movement_date, month_start
    from movements
    where movement_type = 'adjustment'
),

counted_value as (
    select ci.tenant_id, ci.location_id, ci.month_start, sum(lvl.value_on_hand) as counted_value
    from counted_items as ci
    inner join {{ tenant_ref('fct_stock_levels_daily') }} as lvl
        on  lvl.tenant_id = ci.tenant_id
        and lvl.location_id = ci.location_id
        and lvl.material_id = ci.material_id
        and lvl.stock_date = ci.movement_date
    group by ci.tenant_id, ci.location_id, ci.month_start
),

monthly as (
    select
        tenant_id,
        location_id,
        month_start,
        sum(case when movement_type = 'adjustment' then 1 else 0 end) as adjustment_count,
        sum(case when movement_type = 'adjustment' then abs(value_delta) else 0 end) as absolute_adjustment_value,
        sum(case when movement_type = 'adjustment' and quantity_delta > 0 then value_delta else 0 end) as found_value,
        sum(case when movement_type = 'adjustment' and quantity_delta < 0 then -value_delta else 0 end) as missing_value,
        sum(case when movement_type = 'scrap' then -value_delta else 0 end) as scrap_value
    from movements
    group by tenant_id, location_id, month_start
)

select
    {{ dbt.cast('m.tenant_id', dbt.type_string()) }}                      as tenant_id,
    {{ dbt.cast('m.location_id', dbt.type_string()) }}                    as location_id,
    {{ dbt.cast('m.month_start', 'date') }}                               as month_start,
    {{ dbt.cast('m.adjustment_count', dbt.type_int()) }}                  as adjustment_count,
    {{ dbt.cast('coalesce(cv.counted_value, 0)', type_amount()) }}        as counted_value,
    {{ dbt.cast('m.absolute_adjustment_value', type_amount()) }}          as absolute_adjustment_value,
    {{ dbt.cast('m.found_value', type_amount()) }}                        as found_value,
    {{ dbt.cast('m.missing_value', type_amount()) }}                      as missing_value,
    {{ dbt.cast('m.scrap_value', type_amount()) }}                        as scrap_value,
    {{ dbt.cast('m.missing_value + m.scrap_value', type_amount()) }}      as shrinkage_value,
    {{ dbt.cast(
        'case when cv.counted_value > 0 then '
        ~ reports_clamp('1 - ' ~ mira_divide(dbt.cast('m.absolute_adjustment_value', type_amount()), 'cv.counted_value'),
                        low=0, high=1)
        ~ ' end',
        type_amount()) }}                                                 as count_accuracy
from monthly as m
left join counted_value as cv
    on  cv.tenant_id = m.tenant_id
    and cv.location_id = m.location_id
    and cv.month_start = m.month_start
