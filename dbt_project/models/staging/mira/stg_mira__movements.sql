-- One row per movement, kept whether or not its material, location or project is known yet:
-- reference data may land after the movements that use it.
select
    movement_id,
    tenant_id,
    occurred_at,
    movement_type,
    material_id,
    {{ dbt.cast('quantity', type_quantity()) }}  as quantity,
    unit,
    from_location_id,
    to_location_id,
    project_id,
    user_pseudonym,
    {{ dbt.cast('unit_cost', type_unit_cost()) }} as unit_cost,
    _loaded_at                                   as loaded_at
from {{ source('raw', 'movements') }}
