-- Tenants and their subscription (retention runs from terminated_at). Tenants seen in
-- movements but without a tenant record yet get a placeholder row (is_known = false).
with known as (
    select * from {{ ref('stg_mira__tenants') }}
),

referenced as (
    select tenant_id
    from {{ ref('int_movement_references') }}
    where reference_kind = 'tenant'
),

unioned as (
    select
        tenant_id, tenant_name, country_code, subscription_status, subscribed_at, terminated_at,
        true as is_known
    from known

    union all

    select referenced.tenant_id, null, null, null, null, null, false
    from referenced
    where not exists (select 1 from known where known.tenant_id = referenced.tenant_id)
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}           as tenant_id,
    {{ dbt.cast('tenant_name', dbt.type_string()) }}         as tenant_name,
    {{ dbt.cast('country_code', dbt.type_string()) }}        as country_code,
    {{ dbt.cast('subscription_status', dbt.type_string()) }} as subscription_status,
    {{ dbt.cast('subscribed_at', 'date') }}                  as subscribed_at,
    {{ dbt.cast('terminated_at', 'date') }}                  as terminated_at,
    {{ dbt.cast('is_known', dbt.type_boolean()) }}           as is_known
from unioned
