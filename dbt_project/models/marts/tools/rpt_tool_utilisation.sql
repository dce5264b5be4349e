{#
  How much of the time a tool kind is out with someone, over the recent window.

  utilisation = unit-days checked out / (unit-days checked out + unit-days in a store)

  over the last N days up to the tenant's as-of date (var mira_use_window_days). A unit-day is
  one unit of the tool held for one day, taken at the end of the day like the stock levels: a
  drill out for two days of a fleet of four that otherwise sit in the store is 2 / (4 x N).
  For a single tool it is the share of days it was checked out. Tools checked out and back the
  same day count as in the store that day.

  Units out follow the running sum of checkouts minus checkins per tool (floored at zero, for
  history that starts mid-loan); units in store are fct_stock_levels_daily summed over the
  locations. Both are step functions, so each step's value is weighted by the days it overlaps
  the window; no calendar rows are needed.
#}
{{ config(**tenant_incremental()) }}

{%- set window_days = reports_use_window_days() %}

with tools as (
    select tenant_id, material_id
    from {{ tenant_ref('dim_materials') }}
    where material_kind = 'tool'
),

as_of as (
    select
        tenant_id,
        as_of_date,
        {{ dbt.cast(dbt.dateadd('day', 1 - window_days, 'as_of_date'), 'date') }} as window_start,
        {{ dbt.cast(dbt.dateadd('day', 1, 'as_of_date'), 'date') }} as window_end   -- exclusive
    from ({{ reports_as_of_dates() }}) as dates
),

-- net checkouts per tool and day, summed over the stores from fct_stock_levels_daily (a row
-- per location and day) rather than from the ledger's legs; days without checkouts or checkins
-- change nothing and are left out
custody_changes as (
    select
        lvl.tenant_id,
        lvl.material_id,
        lvl.stock_date as movement_date,
        sum(lvl.quantity_checked_out) as units_out_change
    from {{ tenant_ref('fct_stock_levels_daily') }} as lvl
    inner join tools
        on  tools.tenant_id = lvl.tenant_id
        and tools.material_id = lvl.material_id
    where lvl.quantity_checked_out <> 0
    group by lvl.tenant_id, lvl.material_id, lvl.stock_date
),

running_out as (
    select
        tenant_id,
        material_id,
        movement_date as valid_from,
        lead(movement_date) over (
            partition by tenant_id, material_id order by movement_date) as valid_to,
        sum(units_out_change) over (
            partition by tenant_id, material_id order by movement_date
            rows between unbounded preceding and current row) as running
    from custody_changes
),

-- floored at zero like rpt_tool_custody's stack (macros/reports_stack.sql), here per day: a day's
-- checkins beyond what was out are dropped
units_out as (
    select
        running_out.*,
        running - {{ reports_clamp(
            'min(running) over (partition by tenant_id, material_id order by valid_from'
            ~ ' rows between unbounded preceding and current row)', high=0) }} as units
    from running_out
),

units_in_store as (
    select lvl.tenant_id, lvl.material_id, lvl.stock_date as valid_from, lvl.valid_to,
           lvl.quantity_on_hand as units
    from {{ tenant_ref('fct_stock_levels_daily') }} as lvl
    inner join tools
        on  tools.tenant_id = lvl.tenant_id
        and tools.material_id = lvl.material_id
),

steps as (
    select tenant_id, material_id, valid_from, valid_to,
           {{ reports_clamp('units', low=0) }} as units, 'out' as state
    from units_out
    union all
    select tenant_id, material_id, valid_from, valid_to,
           {{ reports_clamp('units', low=0) }} as units, 'store' as state
    from units_in_store
),

clipped as (
    select
        steps.tenant_id,
        steps.material_id,
        steps.state,
        steps.units,
        steps.valid_to,
        case when steps.valid_from > as_of.window_start
             then steps.valid_from else as_of.window_start end as overlap_start,
        case when steps.valid_to is not null and steps.valid_to < as_of.window_end
             then steps.valid_to else as_of.window_end end as overlap_end
    from steps
    inner join as_of on as_of.tenant_id = steps.tenant_id
),

unit_days as (
    select
        tenant_id,
        material_id,
        sum(case when state = 'out' and overlap_end > overlap_start
            then units * {{ reports_days_between('overlap_start', 'overlap_end') }} else 0 end) as unit_days_out,
        sum(case when state = 'store' and overlap_end > overlap_start
            then units * {{ reports_days_between('overlap_start', 'overlap_end') }} else 0 end) as unit_days_in_store,
        sum(case when state = 'out' and valid_to is null then units else 0 end) as units_out_now,
        sum(case when state = 'store' and valid_to is null then units else 0 end) as units_in_store_now
    from clipped
    group by tenant_id, material_id
)

select
    {{ dbt.cast('tools.tenant_id', dbt.type_string()) }}                         as tenant_id,
    {{ dbt.cast('tools.material_id', dbt.type_string()) }}                       as material_id,
    {{ dbt.cast('as_of.as_of_date', 'date') }}                                   as as_of_date,
    {{ dbt.cast('as_of.window_start', 'date') }}                                 as window_start_date,
    {{ dbt.cast('coalesce(ud.units_out_now, 0)', type_amount()) }}               as units_checked_out,
    {{ dbt.cast('coalesce(ud.units_in_store_now, 0)', type_amount()) }}          as units_in_store,
    {{ dbt.cast('coalesce(ud.unit_days_out, 0)', type_amount()) }}               as unit_days_checked_out,
    {{ dbt.cast('coalesce(ud.unit_days_in_store, 0)', type_amount()) }}          as unit_days_in_store,
    {{ dbt.cast(
        'case when ud.unit_days_out + ud.unit_days_in_store > 0 then '
        ~ mira_divide(dbt.cast('ud.unit_days_out', type_amount()), 'ud.unit_days_out + ud.unit_days_in_store')
        ~ ' end',
        type_amount()) }}                                                        as utilisation_share
from tools
inner join as_of on as_of.tenant_id = tools.tenant_id
left join unit_days as ud
    on  ud.tenant_id = tools.tenant_id
    and ud.material_id = tools.material_id
