{{ config(**tenant_incremental()) }}

-- Current stock per location: the open row (valid_to is null) of each material's daily level.
-- Zero rows stay: "out of stock here" is something the dashboard shows.
--
-- Last day anything moved: fct_stock_levels_daily has a row for every day a leg was booked at
-- the location (net-zero days too: a day whose ins and outs cancel is still activity), so the
-- open row's stock_date is the latest movement day, without reading the ledger.
with current_levels as (
    select tenant_id, location_id, material_id, quantity_on_hand, value_on_hand,
           stock_date as last_movement_date
    from {{ tenant_ref('fct_stock_levels_daily') }}
    where valid_to is null
),

materials as (
    select tenant_id, material_id, unit
    from {{ tenant_ref('dim_materials') }}
)

select
    {{ dbt.cast('lvl.tenant_id', dbt.type_string()) }}          as tenant_id,
    {{ dbt.cast('lvl.location_id', dbt.type_string()) }}        as location_id,
    {{ dbt.cast('lvl.material_id', dbt.type_string()) }}        as material_id,
    {{ dbt.cast('mat.unit', dbt.type_string()) }}               as unit,
    {{ dbt.cast('lvl.quantity_on_hand', type_amount()) }}       as quantity_on_hand,
    {{ dbt.cast('lvl.value_on_hand', type_amount()) }}          as value_on_hand,
    {{ dbt.cast('lvl.last_movement_date', 'date') }}            as last_movement_date
from current_levels as lvl
left join materials as mat
    on  mat.tenant_id = lvl.tenant_id
    and mat.material_id = lvl.material_id
