{#
  Tools out right now: one row per checkout that no checkin has closed, with who holds it.

  A checkin does not say which checkout it closes, so they are matched by rule, per tenant and
  tool (material), in time order, last-in first-out (macros/reports_stack.sql):
  1. A person's checkins close that person's own checkouts, the most recent one still open
     before the checkin first: the tool just taken is the one brought back, and one taken long
     ago and never returned stays out (and turns overdue, then lost) instead of being quietly
     closed by the return of a newer one.
  2. What a person checks in beyond what they had out (a storekeeper booking in a colleague's
     tool) closes, in the same way, the most recent checkout before it that its holder has not
     closed. A checkin with nothing open before it (history starting mid-loan) closes nothing.
  The location a tool is checked in to does not matter: it may come back to another store.

  Days out count from the checkout day to the tenant's as-of date (its latest movement day).
  Overdue after var mira_tool_overdue_days (14) days, lost after var mira_tool_lost_days (60);
  a lost tool is overdue too.
#}
{{ config(**tenant_incremental()) }}

{%- set overdue_days = var('mira_tool_overdue_days', 14) | int %}
{%- set lost_days = var('mira_tool_lost_days', 60) | int %}

-- step 1, each person's own checkins against their own checkouts, is int_tool_custody_events'
-- (kept up to date stack by stack); step 2: what step 1 left open, against the checkins
-- nobody's own checkouts absorbed
with pool as (
    select tenant_id, material_id, movement_id, movement_type, occurred_at, movement_date,
           user_pseudonym, location_id, project_id, open_quantity as delta
    from {{ tenant_ref('int_tool_custody_events') }}
    where movement_type = 'checkout' and open_quantity > 0

    union all

    select tenant_id, material_id, movement_id, movement_type, occurred_at, movement_date,
           user_pseudonym, location_id, project_id, -excess_quantity as delta
    from {{ tenant_ref('int_tool_custody_events') }}
    where movement_type = 'checkin' and excess_quantity > 0
),

pooled as (
    {{ reports_lifo_stack('pool', ['tenant_id', 'material_id']) }}
),

aged as (
    select
        pooled.*,
        as_of.as_of_date,
        {{ reports_days_between('pooled.movement_date', 'as_of.as_of_date') }} as days_out
    from pooled
    inner join ({{ reports_as_of_dates() }}) as as_of
        on as_of.tenant_id = pooled.tenant_id
    where pooled.movement_type = 'checkout'
      and pooled.open_quantity > 0
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}                       as tenant_id,
    {{ dbt.cast('movement_id', dbt.type_string()) }}                     as checkout_movement_id,
    {{ dbt.cast('material_id', dbt.type_string()) }}                     as material_id,
    {{ dbt.cast('user_pseudonym', dbt.type_string()) }}                  as user_pseudonym,
    {{ dbt.cast('location_id', dbt.type_string()) }}                     as location_id,
    {{ dbt.cast('project_id', dbt.type_string()) }}                      as project_id,
    {{ dbt.cast('occurred_at', type_timestamp_tz()) }}                   as checked_out_at,
    {{ dbt.cast('movement_date', 'date') }}                              as checkout_date,
    {{ dbt.cast('open_quantity', type_amount()) }}                       as open_quantity,
    {{ dbt.cast('as_of_date', 'date') }}                                 as as_of_date,
    {{ dbt.cast('days_out', dbt.type_int()) }}                           as days_out,
    {{ dbt.cast('days_out > ' ~ overdue_days, dbt.type_boolean()) }}     as is_overdue,
    {{ dbt.cast('days_out > ' ~ lost_days, dbt.type_boolean()) }}        as is_lost
from aged
