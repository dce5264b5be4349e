select
    project_id,
    tenant_id,
    name                as project_name,
    cost_centre,
    status              as project_status,
    started_at          as started_on,
    ended_at            as ended_on,
    _loaded_at          as loaded_at
from {{ source('raw', 'projects') }}
