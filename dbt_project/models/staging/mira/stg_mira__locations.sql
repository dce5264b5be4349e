select
    location_id,
    tenant_id,
    name                as location_name,
    kind                as location_kind,
    _loaded_at          as loaded_at
from {{ source('raw', 'locations') }}
