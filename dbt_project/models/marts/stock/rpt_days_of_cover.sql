{#
  How long current stock lasts at the recent rate of use, per material and location.

  Use (demand on a location) = what left it to be used or to restock another place:
  issues + scrap + transfers out - returns. Receipts, transfers in, checkins and count
  corrections replenish or correct stock; tool checkouts come back, so they are not use.
  A warehouse that feeds vans is drained by transfers, so they count as its use.

  The rate is averaged over the last N days up to the tenant's as-of date (var
  mira_use_window_days), but never over days before the material first moved at that
  location: a van stocked last week is not diluted by 80 days it did not carry the material.
#}
{{ config(**tenant_incremental()) }}

{%- set window_days = reports_use_window_days() %}
{%- set horizon_days = var('mira_cover_horizon_days', 3650) | int %}

with as_of as (
    {{ reports_as_of_dates() }}
),

-- Each series' daily rows that overlap the window: those in it, plus the row the window opens
-- on (the last change before it), if the series is older than the window. So min(stock_date)
-- is the first day the material moved here when that is inside the window, and a day on or
-- before the window's start otherwise (observed_days is then the whole window). Read from
-- fct_stock_levels_daily (a row per series and day, with the day's net use) and not from the
-- ledger (a row per leg).
overlapping as (
    select
        lvl.tenant_id,
        lvl.material_id,
        lvl.location_id,
        lvl.stock_date,
        lvl.valid_to,
        lvl.quantity_on_hand,
        lvl.quantity_used,
        as_of.as_of_date
    from {{ tenant_ref('fct_stock_levels_daily') }} as lvl
    inner join as_of on as_of.tenant_id = lvl.tenant_id
    where lvl.valid_to is null
       or lvl.valid_to > {{ dbt.cast(dbt.dateadd('day', -window_days, 'as_of.as_of_date'), 'date') }}
),

observed as (
    select
        tenant_id,
        material_id,
        location_id,
        as_of_date,
        -- the current row (valid_to is null): every series has exactly one
        max(case when valid_to is null then quantity_on_hand end) as quantity_on_hand,
        sum(case when {{ reports_in_window('stock_date', 'as_of_date', window_days) }}
            then quantity_used else 0 end) as used_quantity,
        {{ reports_clamp(
            reports_days_between('min(stock_date)', 'as_of_date') ~ ' + 1',
            high=window_days) }} as observed_days
    from overlapping
    group by tenant_id, material_id, location_id, as_of_date
),

covered as (
    select
        observed.*,
        {{ mira_divide(dbt.cast('used_quantity', type_amount()), 'observed_days') }} as avg_daily_use,
        -- on hand / (used / days), written as one division so a whole number of days stays
        -- whole (its ceiling must not tip over to the next day through rounding)
        case
            when used_quantity <= 0 then null          -- no net use: stock does not run out
            when quantity_on_hand <= 0 then 0          -- already out
            else {{ mira_divide(dbt.cast('quantity_on_hand * observed_days', type_amount()), 'used_quantity') }}
        end as days_of_cover
    from observed
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}        as tenant_id,
    {{ dbt.cast('material_id', dbt.type_string()) }}      as material_id,
    {{ dbt.cast('location_id', dbt.type_string()) }}      as location_id,
    {{ dbt.cast('as_of_date', 'date') }}                  as as_of_date,
    {{ dbt.cast('quantity_on_hand', type_amount()) }}     as quantity_on_hand,
    {{ dbt.cast('used_quantity', type_amount()) }}        as used_quantity,
    {{ dbt.cast('observed_days', dbt.type_int()) }}       as observed_days,
    {{ dbt.cast('avg_daily_use', type_amount()) }}        as avg_daily_use,
    {{ dbt.cast('days_of_cover', type_amount()) }}        as days_of_cover,
    -- stock hits zero during the day days_of_cover ends in, hence the ceiling; beyond the
    -- horizon a date would be a guess dressed up as a forecast
    {{ dbt.cast(
        'case when days_of_cover <= ' ~ horizon_days ~ ' then '
        ~ dbt.dateadd('day', 'ceiling(days_of_cover)', 'as_of_date') ~ ' end',
        'date') }}                                        as predicted_stockout_date
from covered
