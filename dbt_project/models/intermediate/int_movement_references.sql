{#
  Every reference a movement makes, once: (tenant, kind, id) for the tenant itself, its
  material, the locations it leaves and enters, its project and the pseudonym that registered
  it. The dimensions give each referenced id without a reference row a placeholder (late
  reference data); reading the movements once here, in one pass (grouping sets), spares each
  dimension its own pass over every movement. Rebuilt per tenant whose data changed
  (macros/tenant_incremental.sql), and then whole for that tenant: a correction can take a
  reference away.
#}
{{ config(**tenant_incremental()) }}

with grouped as (
    select
        tenant_id,
        case
            when grouping(material_id) = 0 then 'material'
            when grouping(from_location_id) = 0 or grouping(to_location_id) = 0 then 'location'
            when grouping(project_id) = 0 then 'project'
            when grouping(user_pseudonym) = 0 then 'user'
            else 'tenant'
        end as reference_kind,
        coalesce(material_id, from_location_id, to_location_id, project_id, user_pseudonym) as reference_id
    from {{ tenant_ref('stg_mira__movements') }}
    group by grouping sets (
        (tenant_id),
        (tenant_id, material_id),
        (tenant_id, from_location_id),
        (tenant_id, to_location_id),
        (tenant_id, project_id),
        (tenant_id, user_pseudonym)
    )
)

-- A user reference goes in a column of its own named like every pseudonym column, so the
-- privacy code that finds a person by `*_pseudonym` columns (erasure, restriction) finds it here.
select distinct
    {{ dbt.cast('tenant_id', dbt.type_string()) }}      as tenant_id,
    {{ dbt.cast('reference_kind', dbt.type_string()) }} as reference_kind,
    {{ dbt.cast("case when reference_kind <> 'user' then reference_id end", dbt.type_string()) }} as reference_id,
    {{ dbt.cast("case when reference_kind = 'user' then reference_id end", dbt.type_string()) }}  as user_pseudonym
from grouped
where reference_id is not null or reference_kind = 'tenant'
