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

{#
  Every booking, current or superseded, of the movements (re)loaded after `watermark`. The
  changed movements are found first, on their own (a filter on the load time, which reads only
  the recent part of the history), then their bookings, by a join against that short list.
#}
{% macro core_changed_bookings(watermark) -%}
    select booking.tenant_id, booking.material_id, booking.location_id, booking.movement_date
    from {{ ref('fct_stock_movement_history') }} as booking
    inner join (
        select distinct tenant_id, movement_id
        from {{ ref('fct_stock_movement_history') }}
        where last_loaded_at > {{ watermark }}
    ) as changed
        on  changed.tenant_id = booking.tenant_id
        and changed.movement_id = booking.movement_id
{%- endmacro %}

{#
  Stock series (tenant, material, location) to rebuild, each from `replace_from`: the last
  existing row before the first touched day (its valid_to may change), or that day itself
  when the series has no earlier row. Rows before `replace_from` stay as they are.
#}
{% macro core_stock_levels_touched(written=none) -%}
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
{% macro core_usage_touched(written=none) -%}
    select distinct tenant_id, material_id, movement_date as usage_date
    from ({{ core_changed_bookings(core_watermark()) }}) as changed
{%- endmacro %}

{#
  The plan of an incremental run of int_tool_custody_events, as CTEs (no leading `with`):

    changed  movements (re)loaded after the model's watermark, as the ledger has them now, and
             whether each is a tool custody event (a checkout or checkin of a tool);
    stacks   the (tenant, tool, holder) stacks such a movement is in now or was in before, each
             to `rebuild` or to `append` to.

  A stack is appended to when none of its rows changed and all its new events come after its
  last event: matching last in first out is then a state machine whose state is the stack's
  open checkouts, so the new events are matched against those (as what is left of them) and
  nothing else of the stack is read or written. Otherwise (a correction, a backdated event) the
  stack is rebuilt from all its events: the unchanged ones as this model holds them, the
  changed ones as the ledger has them now. Either way no history is read from the ledger.
#}
{% macro tool_custody_plan() -%}
    changed as (
        select
            mv.tenant_id, mv.movement_id, mv.material_id, mv.user_pseudonym, mv.movement_type,
            mv.occurred_at, mv.movement_date, mv.location_id, mv.project_id,
            -mv.quantity_delta as custody_delta,
            mv.loaded_at,
            mv.movement_type in ('checkout', 'checkin') and tools.material_id is not null as is_custody
        from {{ ref('fct_stock_movements') }} as mv
        left join {{ ref('dim_materials') }} as tools
            on  tools.tenant_id = mv.tenant_id
            and tools.material_id = mv.material_id
            and tools.material_kind = 'tool'
        where mv.loaded_at > {{ core_watermark() }}
    ),

    -- stacks holding a kept event whose movement changed (changed is small: the join is cheap)
    kept_changed_stacks as (
        select distinct kept.tenant_id, kept.material_id, kept.user_pseudonym
        from {{ this }} as kept
        inner join changed
            on  changed.tenant_id = kept.tenant_id
            and changed.movement_id = kept.movement_id
    ),

    new_facts as (
        select tenant_id, material_id, user_pseudonym, min(occurred_at) as first_new_at
        from changed
        where is_custody
        group by tenant_id, material_id, user_pseudonym
    ),

    -- stacks with a kept event at or after their first new one (a backdated event: replay all)
    late_stacks as (
        select distinct kept.tenant_id, kept.material_id, kept.user_pseudonym
        from {{ this }} as kept
        inner join new_facts
            on  new_facts.tenant_id = kept.tenant_id
            and new_facts.material_id = kept.material_id
            and new_facts.user_pseudonym = kept.user_pseudonym
            and kept.occurred_at >= new_facts.first_new_at
        where kept.occurred_at >= (select min(first_new_at) from new_facts)
    ),

    touched_stacks as (
        select tenant_id, material_id, user_pseudonym from new_facts
        union
        select tenant_id, material_id, user_pseudonym from kept_changed_stacks
    ),

    stacks as (
        select
            ts.tenant_id, ts.material_id, ts.user_pseudonym,
            case when kcs.tenant_id is not null or ls.tenant_id is not null
                 then 'rebuild' else 'append' end as mode
        from touched_stacks as ts
        left join kept_changed_stacks as kcs
            on  kcs.tenant_id = ts.tenant_id
            and kcs.material_id = ts.material_id
            and kcs.user_pseudonym = ts.user_pseudonym
        left join late_stacks as ls
            on  ls.tenant_id = ts.tenant_id
            and ls.material_id = ts.material_id
            and ls.user_pseudonym = ts.user_pseudonym
    )
{%- endmacro %}

{#
  Rows of int_tool_custody_events an incremental run replaces: those it writes (`written`: every
  event of a rebuilt stack, the new events and the open checkouts whose open quantity changed),
  and those of changed movements wherever this model holds them (a correction may take a
  movement out of tool custody altogether).
#}
{% macro tool_custody_rewritten_rows(written) -%}
    select tenant_id, movement_id
    from {{ written }}

    union

    select kept.tenant_id, kept.movement_id
    from {{ this }} as kept
    inner join {{ ref('fct_stock_movements') }} as changed
        on  changed.tenant_id = kept.tenant_id
        and changed.movement_id = kept.movement_id
    where changed.loaded_at > {{ core_watermark() }}
{%- endmacro %}
