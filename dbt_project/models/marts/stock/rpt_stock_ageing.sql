{#
  Age of what is on hand, per material and location, in bands of days.

  FIFO: stock leaves in the order it arrived, so what is still here is the most recent
  arrivals. Walking a location's arrivals from the newest back, each one keeps what on hand
  still needs: min(its quantity, on hand - the newer arrivals), never below zero. An arrival is
  every leg that put stock into the location: a receipt, above all, and also a transfer in, a
  return, a checkin or a count that found more. The age of a layer is the days from its arrival
  to the tenant's as-of date.

  So age is time *at this location*: a transfer from the warehouse to a van starts the van's
  clock. Carrying the receipt date through transfers would need a queue replayed movement by
  movement across locations, which set-based SQL does not do; "how long has it sat here" is
  also the question a van or site manager asks.

  Value per band is the band's quantity at the catalogue cost the value on hand is priced at
  (fct_stock_levels_daily), exactly, so the bands add up to the value in rpt_stock_on_hand to
  the last decimal (a share of the value by quantity was a division, rounded).

  Computed per day, from fct_stock_levels_daily rather than per leg from the ledger: a day's
  arrivals all have the same age, and the part of them still on hand is
  min(quantity_in, on hand - what arrived on later days), never below zero, which is the sum of
  the per-arrival amounts above. What arrived on later days is the series' current
  cumulative_quantity_in minus the day's, so no window over the history is needed, and only
  days whose cumulative arrivals exceed (current cumulative - on hand) hold anything.
#}
{{ config(**tenant_incremental()) }}

{%- set bands = [
    ('0_30', 0, 30), ('31_60', 31, 60), ('61_90', 61, 90),
    ('91_180', 91, 180), ('181_365', 181, 365), ('over_365', 366, none),
] %}

with as_of as (
    {{ reports_as_of_dates() }}
),

on_hand as (
    select lvl.tenant_id, lvl.material_id, lvl.location_id, lvl.quantity_on_hand, lvl.value_on_hand,
           lvl.cumulative_quantity_in, as_of.as_of_date
    from {{ tenant_ref('fct_stock_levels_daily') }} as lvl
    inner join as_of on as_of.tenant_id = lvl.tenant_id
    where lvl.valid_to is null
      and lvl.quantity_on_hand > 0
),

layers as (
    select
        oh.tenant_id,
        oh.material_id,
        oh.location_id,
        {{ reports_days_between('lvl.stock_date', 'oh.as_of_date') }} as age_days,
        -- newer arrivals: oh.cumulative_quantity_in - lvl.cumulative_quantity_in
        {{ reports_clamp(
            'case when oh.quantity_on_hand - (oh.cumulative_quantity_in - lvl.cumulative_quantity_in)'
            ~ ' < lvl.quantity_in then oh.quantity_on_hand - (oh.cumulative_quantity_in - lvl.cumulative_quantity_in)'
            ~ ' else lvl.quantity_in end',
            low=0) }} as remaining_quantity
    from on_hand as oh
    inner join {{ tenant_ref('fct_stock_levels_daily') }} as lvl
        on  lvl.tenant_id = oh.tenant_id
        and lvl.material_id = oh.material_id
        and lvl.location_id = oh.location_id
        and lvl.quantity_in > 0
        and lvl.cumulative_quantity_in > oh.cumulative_quantity_in - oh.quantity_on_hand
),

banded as (
    select
        tenant_id,
        material_id,
        location_id,
        {%- for name, low, high in bands %}
        sum(case when age_days >= {{ low }}{% if high is not none %} and age_days <= {{ high }}{% endif %}
            then remaining_quantity else 0 end) as quantity_age_{{ name }},
        {%- endfor %}
        sum(remaining_quantity * age_days) as quantity_days
    from layers
    where remaining_quantity > 0
    group by tenant_id, material_id, location_id
)

select
    {{ dbt.cast('oh.tenant_id', dbt.type_string()) }}          as tenant_id,
    {{ dbt.cast('oh.material_id', dbt.type_string()) }}        as material_id,
    {{ dbt.cast('oh.location_id', dbt.type_string()) }}        as location_id,
    {{ dbt.cast('oh.as_of_date', 'date') }}                    as as_of_date,
    {{ dbt.cast('oh.quantity_on_hand', type_amount()) }}       as quantity_on_hand,
    {{ dbt.cast('oh.value_on_hand', type_amount()) }}          as value_on_hand,
    {%- for name, low, high in bands %}
    {{ dbt.cast('coalesce(b.quantity_age_' ~ name ~ ', 0)', type_amount()) }} as quantity_age_{{ name }},
    {%- endfor %}
    {%- for name, low, high in bands %}
    {{ dbt.cast('case when oh.value_on_hand is not null then '
                ~ exact_product('coalesce(b.quantity_age_' ~ name ~ ', 0)', 'mat.unit_cost') ~ ' end',
                type_amount()) }} as value_age_{{ name }},
    {%- endfor %}
    {{ dbt.cast(mira_divide('b.quantity_days', 'oh.quantity_on_hand'), type_amount()) }} as average_age_days
from on_hand as oh
left join banded as b
    on  b.tenant_id = oh.tenant_id
    and b.material_id = oh.material_id
    and b.location_id = oh.location_id
left join {{ tenant_ref('dim_materials') }} as mat
    on  mat.tenant_id = oh.tenant_id
    and mat.material_id = oh.material_id
