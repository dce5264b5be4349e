{#
  Stock on hand per tenant, material and location, one row per day the stock changed, rebuilt
  from the ledger. valid_to (the next change day) makes "stock as of D" a single-row lookup.

  Incremental by series: a run rebuilds only the (tenant, material, location) series that the
  new or corrected ledger rows touch, from their first touched day (backdated corrections
  included; see macros/core_touched.sql), starting from the balance this mart already holds
  for the day before. Rows before that day are kept as they are.

  Besides the level, each row carries the day's flows the report marts need, so they read this
  mart (a row per series and day) instead of the ledger (a row per leg): the net use behind
  days of cover, tools checked out, and the running total of arrivals that dates FIFO layers.
#}
{{ config(
    materialized='incremental',
    partition_by=mira_partition_by(),
    incremental_strategy='core_replace_touched',
    unique_key=['tenant_id', 'material_id', 'location_id'],
    touched_partitions='core_stock_levels_touched',
    replace_from='stock_date',
    on_schema_change='fail',
) }}

-- Read only on incremental runs (macros/core_touched.sql), where dbt's parser cannot see it:
-- depends_on: {{ ref('fct_stock_movement_history') }}

with
{% if is_incremental() %}
touched as (
    {{ core_stock_levels_touched() }}
),

-- end-of-day balance before each touched series' replace_from, from the rows this run keeps
opening as (
    select
        touched.tenant_id,
        touched.material_id,
        touched.location_id,
        kept.quantity_on_hand as opening_quantity,
        kept.cumulative_quantity_in as opening_cumulative_quantity_in
    from touched
    inner join {{ this }} as kept
        on  kept.tenant_id = touched.tenant_id
        and kept.material_id = touched.material_id
        and kept.location_id = touched.location_id
        and kept.stock_date < touched.replace_from
        and (kept.valid_to is null or kept.valid_to >= touched.replace_from)
),
{% endif %}

legs as (
    select
        ledger.tenant_id,
        ledger.material_id,
        ledger.location_id,
        ledger.movement_date as stock_date,
        ledger.movement_type,
        ledger.leg,
        ledger.quantity_delta,
        ledger.loaded_at
    from {{ ref('fct_stock_movements') }} as ledger
    {% if is_incremental() %}
    inner join touched
        on  touched.tenant_id = ledger.tenant_id
        and touched.material_id = ledger.material_id
        and touched.location_id = ledger.location_id
        and ledger.movement_date >= touched.replace_from
    {% endif %}
),

daily as (
    select
        tenant_id,
        material_id,
        location_id,
        stock_date,
        -- in: receipts, returns, checkins, transfers in, positive count corrections; out: the rest
        sum(case when quantity_delta > 0 then quantity_delta else 0 end)  as quantity_in,
        sum(case when quantity_delta < 0 then -quantity_delta else 0 end) as quantity_out,
        -- use (what days of cover divides stock by): issues, scrap and transfers out, less returns
        sum(case when movement_type in ('issue', 'scrap', 'return')
                   or (movement_type = 'transfer' and leg = 'out')
            then -quantity_delta else 0 end)                              as quantity_used,
        -- tools leaving into someone's custody, less tools checked in here
        sum(case when movement_type in ('checkout', 'checkin')
            then -quantity_delta else 0 end)                              as quantity_checked_out,
        count(*)                                                          as movement_count,
        max(loaded_at)                                                    as loaded_at
    from legs
    group by tenant_id, material_id, location_id, stock_date
),

levels as (
    select
        daily.*,
        {% if is_incremental() %}coalesce(opening.opening_quantity, 0) + {% endif -%}
        sum(quantity_in - quantity_out) over (
            partition by daily.tenant_id, daily.material_id, daily.location_id
            order by stock_date
            rows between unbounded preceding and current row
        ) as quantity_on_hand,
        {% if is_incremental() %}coalesce(opening.opening_cumulative_quantity_in, 0) + {% endif -%}
        sum(quantity_in) over (
            partition by daily.tenant_id, daily.material_id, daily.location_id
            order by stock_date
            rows between unbounded preceding and current row
        ) as cumulative_quantity_in,
        lead(stock_date) over (
            partition by daily.tenant_id, daily.material_id, daily.location_id
            order by stock_date
        ) as valid_to
    from daily
    {% if is_incremental() %}
    left join opening
        on  opening.tenant_id = daily.tenant_id
        and opening.material_id = daily.material_id
        and opening.location_id = daily.location_id
    {% endif %}
)

select
    {{ dbt.cast('levels.tenant_id', dbt.type_string()) }}                      as tenant_id,
    {{ dbt.cast('levels.material_id', dbt.type_string()) }}                    as material_id,
    {{ dbt.cast('levels.location_id', dbt.type_string()) }}                    as location_id,
    {{ dbt.cast('levels.stock_date', 'date') }}                                as stock_date,
    {{ dbt.cast('levels.valid_to', 'date') }}                                  as valid_to,
    {{ dbt.cast('levels.quantity_in', type_amount()) }}                        as quantity_in,
    {{ dbt.cast('levels.quantity_out', type_amount()) }}                       as quantity_out,
    {{ dbt.cast('levels.quantity_on_hand', type_amount()) }}                   as quantity_on_hand,
    {{ dbt.cast('levels.quantity_used', type_amount()) }}                      as quantity_used,
    {{ dbt.cast('levels.quantity_checked_out', type_amount()) }}               as quantity_checked_out,
    {{ dbt.cast('levels.cumulative_quantity_in', type_amount()) }}             as cumulative_quantity_in,
    -- at the catalogue's current cost: what the stock is worth now, not what it cost then
    {{ dbt.cast(exact_product('levels.quantity_on_hand', 'catalogue.unit_cost'), type_amount()) }} as value_on_hand,
    {{ dbt.cast('levels.movement_count', dbt.type_int()) }}                    as movement_count,
    {{ dbt.cast('levels.loaded_at', type_timestamp_tz()) }}                    as loaded_at,
    {{ core_built_at() }}                                                      as built_at
from levels
left join {{ ref('stg_mira__materials') }} as catalogue
    on  catalogue.tenant_id = levels.tenant_id
    and catalogue.material_id = levels.material_id
{{ core_full_build_order(['levels.tenant_id', 'levels.material_id', 'levels.location_id', 'levels.stock_date']) }}
