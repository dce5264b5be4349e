select
    material_id,
    tenant_id,
    sku,
    name                                             as material_name,
    category,
    kind                                             as material_kind,
    unit,
    {{ dbt.cast('unit_cost', type_unit_cost()) }}    as unit_cost,
    {{ dbt.cast('min_stock', type_quantity()) }}     as min_stock,
    {{ dbt.cast('reorder_qty', type_quantity()) }}   as reorder_qty,
    {{ dbt.cast('lead_time_days', dbt.type_int()) }} as lead_time_days,
    supplier,
    _loaded_at                                       as loaded_at
from {{ source('raw', 'materials') }}
