-- Materials seen in movements but not (yet) in the catalogue get a placeholder row
-- (is_in_catalogue = false), so joining facts to this dimension never drops a movement;
-- the row fills in on the first build after the material arrives.
with catalogue as (
    select * from {{ ref('stg_mira__materials') }}
),

referenced as (
    select tenant_id, reference_id as material_id
    from {{ ref('int_movement_references') }}
    where reference_kind = 'material'
),

not_yet_in_catalogue as (
    select referenced.tenant_id, referenced.material_id
    from referenced
    left join catalogue
        on  catalogue.tenant_id = referenced.tenant_id
        and catalogue.material_id = referenced.material_id
    where catalogue.material_id is null
),

unioned as (
    select
        tenant_id, material_id, sku, material_name, category, material_kind, unit,
        unit_cost, min_stock, reorder_qty, lead_time_days, supplier,
        true as is_in_catalogue
    from catalogue

    union all

    select
        tenant_id, material_id, null, null, null, null, null,
        null, null, null, null, null,
        false
    from not_yet_in_catalogue
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}       as tenant_id,
    {{ dbt.cast('material_id', dbt.type_string()) }}     as material_id,
    {{ dbt.cast('sku', dbt.type_string()) }}             as sku,
    {{ dbt.cast('material_name', dbt.type_string()) }}   as material_name,
    {{ dbt.cast('category', dbt.type_string()) }}        as category,
    {{ dbt.cast('material_kind', dbt.type_string()) }}   as material_kind,
    {{ dbt.cast('unit', dbt.type_string()) }}            as unit,
    {{ dbt.cast('unit_cost', type_unit_cost()) }}        as unit_cost,
    {{ dbt.cast('min_stock', type_quantity()) }}         as min_stock,
    {{ dbt.cast('reorder_qty', type_quantity()) }}       as reorder_qty,
    {{ dbt.cast('lead_time_days', dbt.type_int()) }}     as lead_time_days,
    {{ dbt.cast('supplier', dbt.type_string()) }}        as supplier,
    {{ dbt.cast('is_in_catalogue', dbt.type_boolean()) }} as is_in_catalogue
from unioned
