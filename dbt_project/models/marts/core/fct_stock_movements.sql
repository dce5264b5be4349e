{#
  The stock ledger: one row per leg (a movement leaving and/or entering a location).

  Incremental, delete+insert by movement (not by leg): a corrected movement replaces all of its
  legs, so a transfer corrected into an issue loses its 'in' leg instead of keeping it stale.
  A movement is (re)selected when it, or its catalogue entry (whose cost values legs that carry
  none), was loaded after the ledger's watermark; `loaded_at` is the later of the two.
#}
{{ config(
    materialized='incremental',
    partition_by=mira_partition_by(),
    incremental_strategy='delete+insert',
    unique_key=['tenant_id', 'movement_id'],
    on_schema_change='fail',
) }}

with movements as (
    select
        mv.*,
        catalogue.unit_cost as catalogue_unit_cost,
        case when catalogue.loaded_at > mv.loaded_at
            then catalogue.loaded_at else mv.loaded_at end as inputs_loaded_at
    from {{ ref('stg_mira__movements') }} as mv
    left join {{ ref('stg_mira__materials') }} as catalogue
        on  catalogue.tenant_id = mv.tenant_id
        and catalogue.material_id = mv.material_id
    {% if is_incremental() %}
    where mv.loaded_at > {{ core_watermark() }}

    -- movements of catalogue entries (re)loaded since, that are not new themselves: a branch
    -- of its own (not an `or` above) so the engine filters each table by its own load time and
    -- reads only the recent part of the movements
    union all

    select
        mv.*,
        catalogue.unit_cost as catalogue_unit_cost,
        catalogue.loaded_at as inputs_loaded_at
    from {{ ref('stg_mira__movements') }} as mv
    inner join {{ ref('stg_mira__materials') }} as catalogue
        on  catalogue.tenant_id = mv.tenant_id
        and catalogue.material_id = mv.material_id
    where catalogue.loaded_at > {{ core_watermark() }}
      and mv.loaded_at <= {{ core_watermark() }}
    {% endif %}
),

legs as (
    -- stock leaving from_location_id
    select movements.*, 'out' as leg, from_location_id as location_id, -quantity as quantity_delta
    from movements
    where movement_type in ('issue', 'transfer', 'checkout', 'scrap')

    union all

    -- stock entering to_location_id; an adjustment's signed quantity corrects the counted location
    select movements.*, 'in' as leg, to_location_id as location_id, quantity as quantity_delta
    from movements
    where movement_type in ('receipt', 'return', 'transfer', 'checkin', 'adjustment')
),

costed as (
    select
        legs.*,
        -- the cost recorded on the movement wins; otherwise the catalogue's current cost
        coalesce(unit_cost, catalogue_unit_cost) as leg_unit_cost
    from legs
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}                  as tenant_id,
    {{ dbt.cast('movement_id', dbt.type_string()) }}                as movement_id,
    {{ dbt.cast('leg', dbt.type_string()) }}                        as leg,
    {{ dbt.cast('occurred_at', type_timestamp_tz()) }}              as occurred_at,
    {{ dbt.cast(local_date('occurred_at'), 'date') }}               as movement_date,
    {{ dbt.cast('movement_type', dbt.type_string()) }}              as movement_type,
    {{ dbt.cast('material_id', dbt.type_string()) }}                as material_id,
    {{ dbt.cast('location_id', dbt.type_string()) }}                as location_id,
    {{ dbt.cast('project_id', dbt.type_string()) }}                 as project_id,
    {{ dbt.cast('user_pseudonym', dbt.type_string()) }}             as user_pseudonym,
    {{ dbt.cast('quantity_delta', type_quantity()) }}               as quantity_delta,
    {{ dbt.cast('unit', dbt.type_string()) }}                       as unit,
    {{ dbt.cast('leg_unit_cost', type_unit_cost()) }}               as unit_cost,
    {{ dbt.cast(exact_product('quantity_delta', 'leg_unit_cost'), type_amount()) }} as value_delta,
    {{ dbt.cast('inputs_loaded_at', type_timestamp_tz()) }}         as loaded_at,
    {{ core_built_at() }}                                           as built_at
from costed
{{ core_full_build_order(['tenant_id', 'movement_date']) }}
