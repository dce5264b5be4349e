{#
  What an incremental run of the stock and consumption marts has to rebuild.

  The ledger (fct_stock_movements) keeps only the current legs of a movement; a correction
  that moves a movement to another material, location or day would leave no trace of where it
  used to count. fct_stock_movement_history keeps every booking a leg has had, so the
  partitions to rebuild are those of every booking, old or new, of each movement changed since
  the mart's watermark.

  Each mart uses its own watermark (max(loaded_at) of its rows). The consumption mart holds
  only consumption, so after a load without any it may re-check a few partitions it already
  built: work that changes nothing, never a partition missed.
#}

{# Every booking, current or superseded, of the movements (re)loaded after `watermark`. #}
{% macro core_changed_bookings(watermark) -%}
    select booking.tenant_id, booking.material_id, booking.location_id, booking.movement_date
    from {{ ref('fct_stock_movement_history') }} as booking
    where exists (
        select 1
        from {{ ref('fct_stock_movement_history') }} as changed
        where changed.tenant_id = booking.tenant_id
          and changed.movement_id = booking.movement_id
          and changed.last_loaded_at > {{ watermark }}
    )
{%- endmacro %}

{#
  Stock series (tenant, material, location) to rebuild, each from `replace_from`: the last
  existing row before the first touched day (its valid_to may change), or that day itself
  when the series has no earlier row. Rows before `replace_from` stay as they are.
#}
{% macro core_stock_levels_touched() -%}
    with changed as (
        {{ core_changed_bookings(core_watermark()) }}
    ),

    first_touched as (
        select tenant_id, material_id, location_id, min(movement_date) as first_touched_date
        from changed
        group by tenant_id, material_id, location_id
    )

    select
        first_touched.tenant_id,
        first_touched.material_id,
        first_touched.location_id,
        coalesce(max(kept.stock_date), min(first_touched.first_touched_date)) as replace_from
    from first_touched
    left join {{ this }} as kept
        on  kept.tenant_id = first_touched.tenant_id
        and kept.material_id = first_touched.material_id
        and kept.location_id = first_touched.location_id
        and kept.stock_date < first_touched.first_touched_date
    group by first_touched.tenant_id, first_touched.material_id, first_touched.location_id
{%- endmacro %}

{# Consumption partitions (tenant, material, day) to rebuild whole. #}
{% macro core_usage_touched() -%}
    select distinct tenant_id, material_id, movement_date as usage_date
    from ({{ core_changed_bookings(core_watermark()) }}) as changed
{%- endmacro %}
