-- Consumption = issue + scrap - return. Other movement types only move or count stock.
-- Movements are left-joined to the catalogue so a movement whose material has not arrived
-- yet is kept (its value stays unknown until the material, and so its cost, arrives).
with consumption_movements as (
    select *
    from {{ ref('stg_mira__movements') }}
    where movement_type in ('issue', 'scrap', 'return')
),

catalogue as (
    select tenant_id, material_id, unit_cost
    from {{ ref('stg_mira__materials') }}
),

signed as (
    select
        mv.tenant_id,
        {{ local_date('mv.occurred_at') }} as usage_date,
        mv.material_id,
        mv.project_id,
        -- where the stock left (issue, scrap) or came back to (return)
        case when mv.movement_type = 'return'
            then mv.to_location_id else mv.from_location_id end as location_id,
        mv.unit,
        case when mv.movement_type = 'return'
            then -mv.quantity else mv.quantity end as consumed_quantity,
        -- the cost recorded on the movement wins; otherwise the catalogue's current cost
        coalesce(mv.unit_cost, catalogue.unit_cost) as unit_cost
    from consumption_movements as mv
    left join catalogue
        on  catalogue.tenant_id = mv.tenant_id
        and catalogue.material_id = mv.material_id
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}                    as tenant_id,
    {{ dbt.cast('usage_date', 'date') }}                              as usage_date,
    {{ dbt.cast('material_id', dbt.type_string()) }}                  as material_id,
    {{ dbt.cast('project_id', dbt.type_string()) }}                   as project_id,
    {{ dbt.cast('location_id', dbt.type_string()) }}                  as location_id,
    {{ dbt.cast('unit', dbt.type_string()) }}                         as unit,
    {{ dbt.cast('sum(consumed_quantity)', type_amount()) }}           as consumed_quantity,
    -- a value only when every movement in the group has a cost: a partial sum would understate
    {{ dbt.cast(
        'case when count(unit_cost) = count(*) then sum(consumed_quantity * unit_cost) end',
        type_amount()) }}                                             as consumed_value,
    {{ dbt.cast('count(*)', dbt.type_int()) }}                        as movement_count
from signed
group by 1, 2, 3, 4, 5, 6
