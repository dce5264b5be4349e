{#
  Every custody event of a tool (a checkout or checkin of a material whose kind is tool), with
  what the first matching step of rpt_tool_custody makes of it: a holder's checkins close that
  holder's own checkouts, last in first out (macros/reports_stack.sql). open_quantity is what
  of a checkout its holder has not brought back; excess_quantity what a checkin brings back
  beyond what its holder had out (a storekeeper booking in a colleague's tool). The second
  step, matching the excess against everyone's open checkouts, is rpt_tool_custody's.

  Why a model of its own: matching needs each holder's whole history in time order, the
  costliest query of the project at millions of movements, while one more day of movements only
  adds events at the end of the stacks. Incremental by stack (macros/core_touched.sql,
  tool_custody_plan): a stack whose new events all come after its last one is continued from
  its open checkouts, and of those only the ones whose open quantity changes are rewritten; a
  stack with a changed or backdated event is rebuilt from all its events.
#}
{{ config(
    materialized='incremental',
    partition_by=mira_partition_by(),
    incremental_strategy='core_replace_touched',
    unique_key=['tenant_id', 'movement_id'],
    touched_partitions='tool_custody_rewritten_rows',
    on_schema_change='fail',
) }}

with
{% if is_incremental() %}
{{ tool_custody_plan() }},

events as (
    -- stacks rebuilt: their unchanged events as held here
    select
        kept.tenant_id, kept.material_id, kept.user_pseudonym, kept.movement_id, kept.movement_type,
        kept.occurred_at, kept.movement_date, kept.location_id, kept.project_id,
        kept.custody_delta, kept.custody_delta as delta, kept.loaded_at,
        true as is_written, kept.open_quantity as kept_open_quantity
    from {{ this }} as kept
    inner join stacks
        on  stacks.tenant_id = kept.tenant_id
        and stacks.material_id = kept.material_id
        and stacks.user_pseudonym = kept.user_pseudonym
        and stacks.mode = 'rebuild'
    where not exists (
        select 1 from changed
        where changed.tenant_id = kept.tenant_id and changed.movement_id = kept.movement_id
    )

    union all

    -- stacks appended to: their open checkouts, as what is left of them (rewritten only when
    -- that changes)
    select
        kept.tenant_id, kept.material_id, kept.user_pseudonym, kept.movement_id, kept.movement_type,
        kept.occurred_at, kept.movement_date, kept.location_id, kept.project_id,
        kept.custody_delta, kept.open_quantity as delta, kept.loaded_at,
        false as is_written, kept.open_quantity as kept_open_quantity
    from {{ this }} as kept
    inner join stacks
        on  stacks.tenant_id = kept.tenant_id
        and stacks.material_id = kept.material_id
        and stacks.user_pseudonym = kept.user_pseudonym
        and stacks.mode = 'append'
    where kept.movement_type = 'checkout' and kept.open_quantity > 0

    union all

    -- new and changed custody events, in whichever stack they are now
    select
        tenant_id, material_id, user_pseudonym, movement_id, movement_type,
        occurred_at, movement_date, location_id, project_id,
        custody_delta, custody_delta as delta, loaded_at,
        true as is_written, {{ dbt.cast('null', type_amount()) }} as kept_open_quantity
    from changed
    where is_custody
),
{% else %}
events as (
    select
        mv.tenant_id,
        mv.material_id,
        mv.user_pseudonym,
        mv.movement_id,
        mv.movement_type,
        mv.occurred_at,
        mv.movement_date,
        mv.location_id,
        mv.project_id,
        -- a checkout leaves the store (negative delta) into a person's custody
        -mv.quantity_delta as custody_delta,
        -mv.quantity_delta as delta,
        mv.loaded_at,
        true as is_written,
        {{ dbt.cast('null', type_amount()) }} as kept_open_quantity
    from {{ ref('fct_stock_movements') }} as mv
    inner join {{ ref('dim_materials') }} as tools
        on  tools.tenant_id = mv.tenant_id
        and tools.material_id = mv.material_id
        and tools.material_kind = 'tool'
    where mv.movement_type in ('checkout', 'checkin')
),
{% endif %}

own as (
    {{ reports_lifo_stack('events', ['tenant_id', 'material_id', 'user_pseudonym']) }}
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}            as tenant_id,
    {{ dbt.cast('material_id', dbt.type_string()) }}          as material_id,
    {{ dbt.cast('user_pseudonym', dbt.type_string()) }}       as user_pseudonym,
    {{ dbt.cast('movement_id', dbt.type_string()) }}          as movement_id,
    {{ dbt.cast('movement_type', dbt.type_string()) }}        as movement_type,
    {{ dbt.cast('occurred_at', type_timestamp_tz()) }}        as occurred_at,
    {{ dbt.cast('movement_date', 'date') }}                   as movement_date,
    {{ dbt.cast('location_id', dbt.type_string()) }}          as location_id,
    {{ dbt.cast('project_id', dbt.type_string()) }}           as project_id,
    {{ dbt.cast('custody_delta', type_quantity()) }}          as custody_delta,
    {{ dbt.cast('open_quantity', type_amount()) }}            as open_quantity,
    {{ dbt.cast('excess_quantity', type_amount()) }}          as excess_quantity,
    {{ dbt.cast('loaded_at', type_timestamp_tz()) }}          as loaded_at,
    {{ core_built_at() }}                                     as built_at
from own
where is_written or open_quantity <> kept_open_quantity
{{ core_full_build_order(['tenant_id', 'material_id', 'user_pseudonym', 'occurred_at']) }}
