{#
  Match checkins to checkouts last-in first-out, in time order, with window functions only.

  `events` is a relation or CTE with movement_type ('checkout' | 'checkin'), occurred_at,
  movement_id and delta (+quantity for a checkout, -quantity for a checkin). Per partition the
  checkouts form a stack: a checkin closes the most recent checkout still open before it. A
  checkin with nothing open is not allowed to push the stack below zero.

  The stack height after each event is the running sum of delta floored at zero:
      level = running sum - min(0, lowest running sum so far)
  What the floor swallows at a checkin is its excess_quantity (nothing open to close). A
  checkout fills the stack between level - delta and level; it is closed down to the lowest
  level the stack reaches afterwards, so
      open_quantity = max(0, min(level, lowest later level) - (level - delta)).
  Rows come back with those two columns added (excess_quantity 0 for checkouts,
  open_quantity null for checkins).
#}
{% macro reports_lifo_stack(events, partition_by) -%}
    {%- set over = 'partition by ' ~ (partition_by | join(', ')) ~ ' order by occurred_at, movement_id' %}
    select
        leveled.*,
        case when movement_type = 'checkin' then floor_before - floor_now else 0 end as excess_quantity,
        case when movement_type = 'checkout' then
            {{ reports_clamp(
                'case when later_min is not null and later_min < level_after then later_min else level_after end'
                ~ ' - (level_after - delta)', low=0) }}
        end as open_quantity
    from (
        select
            floored.*,
            case when running_min < 0 then running_min else 0 end as floor_now,
            coalesce(lag(case when running_min < 0 then running_min else 0 end) over ({{ over }}), 0)
                as floor_before,
            running - case when running_min < 0 then running_min else 0 end as level_after,
            min(running - case when running_min < 0 then running_min else 0 end) over (
                {{ over }} rows between 1 following and unbounded following) as later_min
        from (
            select
                running_sums.*,
                min(running) over ({{ over }} rows between unbounded preceding and current row) as running_min
            from (
                select
                    stack_events.*,
                    sum(delta) over ({{ over }} rows between unbounded preceding and current row) as running
                from {{ events }} as stack_events
            ) as running_sums
        ) as floored
    ) as leveled
{%- endmacro %}
