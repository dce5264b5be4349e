select
    tenant_id,
    name                as tenant_name,
    country             as country_code,
    subscription_status,
    subscribed_at,
    terminated_at,
    _loaded_at          as loaded_at
from {{ source('raw', 'tenants') }}
