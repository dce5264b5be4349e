{#
  Consumption = issue + scrap - return, taken from the ledger, so it shares the ledger's legs,
  locations and costs: an issue's or scrap's out leg counts positive, a return's in leg
  negative. Other movement types only move or count stock.

  Incremental by (tenant, material, day): a run rebuilds whole those partitions that new or
  corrected movements touch, including the day a corrected movement used to be on
  (macros/core_touched.sql).
#}
{{ config(
    materialized='incremental',
    partition_by=mira_partition_by(),
    incremental_strategy='core_replace_touched',
    unique_key=['tenant_id', 'material_id', 'usage_date'],
    touched_partitions='core_usage_touched',
    on_schema_change='fail',
) }}

-- Read only on incremental runs (macros/core_touched.sql), where dbt's parser cannot see it:
-- depends_on: {{ ref('fct_stock_movement_history') }}

with
{% if is_incremental() %}
touched as (
    {{ core_usage_touched() }}
),
{% endif %}

consumption as (
    select
        ledger.tenant_id,
        ledger.movement_date as usage_date,
        ledger.material_id,
        ledger.project_id,
        -- where the stock left (issue, scrap) or came back to (return)
        ledger.location_id,
        ledger.user_pseudonym,
        ledger.unit,
        -ledger.quantity_delta as consumed_quantity,
        -ledger.value_delta    as consumed_value,
        ledger.unit_cost,
        ledger.loaded_at
    from {{ ref('fct_stock_movements') }} as ledger
    {% if is_incremental() %}
    inner join touched
        on  touched.tenant_id = ledger.tenant_id
        and touched.material_id = ledger.material_id
        and touched.usage_date = ledger.movement_date
    {% endif %}
    where ledger.movement_type in ('issue', 'scrap', 'return')
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}                    as tenant_id,
    {{ dbt.cast('usage_date', 'date') }}                              as usage_date,
    {{ dbt.cast('material_id', dbt.type_string()) }}                  as material_id,
    {{ dbt.cast('project_id', dbt.type_string()) }}                   as project_id,
    {{ dbt.cast('location_id', dbt.type_string()) }}                  as location_id,
    {{ dbt.cast('user_pseudonym', dbt.type_string()) }}               as user_pseudonym,
    {{ dbt.cast('unit', dbt.type_string()) }}                         as unit,
    {{ dbt.cast('sum(consumed_quantity)', type_amount()) }}           as consumed_quantity,
    -- a value only when every movement in the group has a cost: a partial sum would understate
    {{ dbt.cast(
        'case when count(unit_cost) = count(*) then sum(consumed_value) end',
        type_amount()) }}                                             as consumed_value,
    {{ dbt.cast('count(*)', dbt.type_int()) }}                        as movement_count,
    {{ dbt.cast('max(loaded_at)', type_timestamp_tz()) }}             as loaded_at,
    {{ core_built_at() }}                                             as built_at
from consumption
group by tenant_id, usage_date, material_id, project_id, location_id, user_pseudonym, unit
{{ core_full_build_order(['tenant_id', 'usage_date']) }}
