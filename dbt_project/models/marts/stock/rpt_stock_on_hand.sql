-- Current stock per location: the open row (valid_to is null) of each material's daily level.
-- Zero rows stay: "out of stock here" is something the dashboard shows.
with current_levels as (
    select tenant_id, location_id, material_id, quantity_on_hand, value_on_hand
    from {{ ref('fct_stock_levels_daily') }}
    where valid_to is null
),

-- Last day anything moved, taken from the movements themselves: a day whose ins and outs
-- cancel may leave no change in the level, but it is still activity.
last_movement as (
    select tenant_id, location_id, material_id, max(movement_date) as last_movement_date
    from {{ ref('fct_stock_movements') }}
    group by tenant_id, location_id, material_id
),

materials as (
    select tenant_id, material_id, unit
    from {{ ref('dim_materials') }}
)

select
    {{ dbt.cast('lvl.tenant_id', dbt.type_string()) }}          as tenant_id,
    {{ dbt.cast('lvl.location_id', dbt.type_string()) }}        as location_id,
    {{ dbt.cast('lvl.material_id', dbt.type_string()) }}        as material_id,
    {{ dbt.cast('mat.unit', dbt.type_string()) }}               as unit,
    {{ dbt.cast('lvl.quantity_on_hand', type_amount()) }}       as quantity_on_hand,
    {{ dbt.cast('lvl.value_on_hand', type_amount()) }}          as value_on_hand,
    {{ dbt.cast('lm.last_movement_date', 'date') }}             as last_movement_date
from current_levels as lvl
left join last_movement as lm
    on  lm.tenant_id = lvl.tenant_id
    and lm.location_id = lvl.location_id
    and lm.material_id = lvl.material_id
left join materials as mat
    on  mat.tenant_id = lvl.tenant_id
    and mat.material_id = lvl.material_id
