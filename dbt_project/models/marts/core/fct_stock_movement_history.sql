{#
  Every booking (tenant, movement, leg, material, location, day) the ledger has held.

  The ledger replaces a corrected movement's legs; this keeps the replaced ones too, because
  the incremental stock and consumption marts must also rebuild the series and days a
  correction takes a movement away from (see macros/core_touched.sql). Merged on the whole
  booking: a booking seen again only moves last_loaded_at (and built_at, the run that saw it).
#}
{{ config(
    materialized='incremental',
    partition_by=mira_partition_by(),
    incremental_strategy='merge',
    unique_key=['tenant_id', 'movement_id', 'leg', 'material_id', 'location_id', 'movement_date'],
    merge_update_columns=['last_loaded_at', 'built_at'],
    on_schema_change='fail',
) }}

select
    tenant_id,
    movement_id,
    leg,
    material_id,
    location_id,
    movement_date,
    loaded_at as first_loaded_at,
    loaded_at as last_loaded_at,
    {{ core_built_at() }} as built_at
from {{ ref('fct_stock_movements') }}
{% if is_incremental() %}
where loaded_at > {{ core_watermark('last_loaded_at') }}
{% endif %}
{{ core_full_build_order(['tenant_id', 'movement_date']) }}
