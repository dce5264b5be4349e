{#
  ERPNext's reorder rule per material and warehouse:

      reorder level = average daily use x lead time (days) + safety stock

  with the safety stock taken as the catalogue's min_stock, which is exactly what ERPNext's
  "Itemwise Recommended Reorder Level" adds (the item's minimum inventory level): stock that
  is ordered when it falls to the reorder level arrives, at the average rate, just as it
  reaches the minimum. There is no separate safety-stock field in the catalogue to use instead.

  When on hand is below the reorder level, ERPNext orders the usual reorder quantity, or the
  shortfall up to the reorder level if that is more: max(reorder_qty, reorder level - on hand).
  The shortfall is rounded up to whole units so a suggestion is something one can order.
  There are no purchase orders in the data, so "projected" stock is simply on hand.

  Where we part from ERPNext, on purpose: ERPNext orders the usual quantity whatever the rate of
  use, so a slow mover (road signs used four times a year, usual order 20) gets five years of
  stock ordered the day it dips below its level. Here the usual quantity is capped at what
  brings stock to the reorder level plus `mira_reorder_max_cover_days` (180) days of average
  use, and never below the shortfall: a fast mover, whose usual quantity lasts less than that,
  orders exactly as in ERPNext; a material with no use orders only the shortfall. The page
  shows which suggestions were capped (the usual quantity is beside them).

  Rows: every material that has stock history at a warehouse (vans and sites are restocked by
  transfers, not orders). Tools are left out: a checked-out tool comes back, so a store short
  of drills is a custody question (rpt_tool_custody), not a purchase. Materials known only
  from movements (not in the catalogue yet) have no minimum or lead time and are left out too.
  Average use is rpt_days_of_cover's (net issues, scrap and transfers out over the window).
  The catalogue's supplier rides along: the Stock page turns the suggestions into a purchase
  proposal per supplier.
#}
{%- set max_cover_days = var('mira_reorder_max_cover_days', 180) | int %}
{{ config(**tenant_incremental()) }}

with cover as (
    select tenant_id, material_id, location_id, as_of_date, quantity_on_hand, avg_daily_use
    from {{ tenant_ref('rpt_days_of_cover') }}
),

warehouses as (
    select tenant_id, location_id
    from {{ tenant_ref('dim_locations') }}
    where location_kind = 'warehouse'
),

materials as (
    select tenant_id, material_id, min_stock, reorder_qty, lead_time_days, supplier
    from {{ tenant_ref('dim_materials') }}
    where is_in_catalogue and material_kind <> 'tool'
),

levels as (
    select
        cover.tenant_id,
        cover.material_id,
        cover.location_id,
        cover.as_of_date,
        cover.quantity_on_hand,
        mat.min_stock,
        mat.reorder_qty,
        mat.supplier,
        coalesce(mat.lead_time_days, 0) as lead_time_days,
        coalesce(mat.min_stock, 0) as safety_stock,
        cover.avg_daily_use,
        cover.avg_daily_use * coalesce(mat.lead_time_days, 0) + coalesce(mat.min_stock, 0) as reorder_level
    from cover
    inner join warehouses as wh
        on  wh.tenant_id = cover.tenant_id
        and wh.location_id = cover.location_id
    inner join materials as mat
        on  mat.tenant_id = cover.tenant_id
        and mat.material_id = cover.material_id
),

suggested as (
    select
        levels.*,
        quantity_on_hand < min_stock as is_below_minimum,
        quantity_on_hand < reorder_level as is_below_reorder_level,
        case
            when quantity_on_hand >= reorder_level then 0
            when ceiling(reorder_level - quantity_on_hand) >= least(
                    coalesce(reorder_qty, 0),
                    ceiling(reorder_level + avg_daily_use * {{ max_cover_days }} - quantity_on_hand))
                then ceiling(reorder_level - quantity_on_hand)
            else least(reorder_qty, ceiling(reorder_level + avg_daily_use * {{ max_cover_days }} - quantity_on_hand))
        end as suggested_order_qty
    from levels
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}                    as tenant_id,
    {{ dbt.cast('material_id', dbt.type_string()) }}                  as material_id,
    {{ dbt.cast('location_id', dbt.type_string()) }}                  as location_id,
    {{ dbt.cast('as_of_date', 'date') }}                              as as_of_date,
    {{ dbt.cast('quantity_on_hand', type_amount()) }}                 as quantity_on_hand,
    {{ dbt.cast('min_stock', type_amount()) }}                        as min_stock,
    {{ dbt.cast('avg_daily_use', type_amount()) }}                    as avg_daily_use,
    {{ dbt.cast('lead_time_days', dbt.type_int()) }}                  as lead_time_days,
    {{ dbt.cast('safety_stock', type_amount()) }}                     as safety_stock,
    {{ dbt.cast('reorder_level', type_amount()) }}                    as reorder_level,
    {{ dbt.cast('reorder_qty', type_amount()) }}                      as reorder_qty,
    {{ dbt.cast('coalesce(is_below_minimum, false)', dbt.type_boolean()) }} as is_below_minimum,
    {{ dbt.cast('is_below_reorder_level', dbt.type_boolean()) }}      as is_below_reorder_level,
    {{ dbt.cast('suggested_order_qty', type_amount()) }}              as suggested_order_qty,
    {{ dbt.cast('supplier', dbt.type_string()) }}                     as supplier
from suggested
