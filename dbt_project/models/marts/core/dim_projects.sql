-- Projects seen in movements but not (yet) in the project list get a placeholder row
-- (is_known = false), so consumption joined to this dimension is never dropped.
with known as (
    select * from {{ ref('stg_mira__projects') }}
),

referenced as (
    select tenant_id, reference_id as project_id
    from {{ ref('int_movement_references') }}
    where reference_kind = 'project'
),

unioned as (
    select
        tenant_id, project_id, project_name, cost_centre, project_status, started_on, ended_on,
        true as is_known
    from known

    union all

    select referenced.tenant_id, referenced.project_id, null, null, null, null, null, false
    from referenced
    where not exists (
        select 1 from known
        where known.tenant_id = referenced.tenant_id and known.project_id = referenced.project_id
    )
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}      as tenant_id,
    {{ dbt.cast('project_id', dbt.type_string()) }}     as project_id,
    {{ dbt.cast('project_name', dbt.type_string()) }}   as project_name,
    {{ dbt.cast('cost_centre', dbt.type_string()) }}    as cost_centre,
    {{ dbt.cast('project_status', dbt.type_string()) }} as project_status,
    {{ dbt.cast('started_on', 'date') }}                as started_on,
    {{ dbt.cast('ended_on', 'date') }}                  as ended_on,
    {{ dbt.cast('is_known', dbt.type_boolean()) }}      as is_known
from unioned
