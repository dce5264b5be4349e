-- Locations seen in movements but not (yet) in the location list get a placeholder row
-- (is_known = false), so facts joined to this dimension never lose a movement (late
-- reference data); the row fills in on the first build after the location arrives.
with known as (
    select * from {{ ref('stg_mira__locations') }}
),

referenced as (
    select tenant_id, reference_id as location_id
    from {{ ref('int_movement_references') }}
    where reference_kind = 'location'
),

unioned as (
    select tenant_id, location_id, location_name, location_kind, true as is_known
    from known

    union all

    select referenced.tenant_id, referenced.location_id, null, null, false
    from referenced
    where not exists (
        select 1 from known
        where known.tenant_id = referenced.tenant_id and known.location_id = referenced.location_id
    )
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}     as tenant_id,
    {{ dbt.cast('location_id', dbt.type_string()) }}   as location_id,
    {{ dbt.cast('location_name', dbt.type_string()) }} as location_name,
    {{ dbt.cast('location_kind', dbt.type_string()) }} as location_kind,
    {{ dbt.cast('is_known', dbt.type_boolean()) }}     as is_known
from unioned
