{#
  Dead and slow stock: what lies on hand per material and location, and how long the material
  has gone without an issue (to a project, anywhere in the tenant).

  A manager asks "what have we not used in 90 days, what is it worth and where is it": the page
  filters this mart on days_without_issue >= N (30, 90, 180, 365) and groups it per material.
  The clock runs from the material's last issue, or, for a material never issued, from the day
  it first moved in the tenant: stock that arrived last week is not dead, however unused.

  Issues only, not consumption: scrap is loss, not use, and a transfer to a van moves stock
  without using it. Tools are left out (a drill is checked out and returned, never issued; its
  idleness is utilisation, rpt_tool_utilisation). Value at the catalogue's current cost, like
  rpt_stock_on_hand, whose rows these are (the open rows of fct_stock_levels_daily above zero).
  "Now" is the tenant's latest movement day (macros/reports_window.sql), so a rebuild gives the
  same figures.
#}
{{ config(**tenant_incremental()) }}

with as_of as (
    {{ reports_as_of_dates() }}
),

on_hand as (
    select tenant_id, material_id, location_id, quantity_on_hand, value_on_hand
    from {{ tenant_ref('fct_stock_levels_daily') }}
    where valid_to is null
      and quantity_on_hand > 0
),

first_moved as (
    select tenant_id, material_id, min(stock_date) as first_movement_date
    from {{ tenant_ref('fct_stock_levels_daily') }}
    group by tenant_id, material_id
),

issued as (
    select tenant_id, material_id, max(movement_date) as last_issue_date
    from {{ tenant_ref('fct_stock_movements') }}
    where movement_type = 'issue'
    group by tenant_id, material_id
),

tools as (
    select tenant_id, material_id
    from {{ tenant_ref('dim_materials') }}
    where material_kind = 'tool'
),

idle as (
    select
        oh.tenant_id,
        oh.material_id,
        oh.location_id,
        as_of.as_of_date,
        oh.quantity_on_hand,
        oh.value_on_hand,
        iss.last_issue_date,
        fm.first_movement_date,
        coalesce(iss.last_issue_date, fm.first_movement_date) as idle_since
    from on_hand as oh
    inner join as_of
        on as_of.tenant_id = oh.tenant_id
    inner join first_moved as fm
        on  fm.tenant_id = oh.tenant_id
        and fm.material_id = oh.material_id
    left join issued as iss
        on  iss.tenant_id = oh.tenant_id
        and iss.material_id = oh.material_id
    left join tools
        on  tools.tenant_id = oh.tenant_id
        and tools.material_id = oh.material_id
    where tools.material_id is null
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}                      as tenant_id,
    {{ dbt.cast('material_id', dbt.type_string()) }}                    as material_id,
    {{ dbt.cast('location_id', dbt.type_string()) }}                    as location_id,
    {{ dbt.cast('as_of_date', 'date') }}                                as as_of_date,
    {{ dbt.cast('quantity_on_hand', type_amount()) }}                   as quantity_on_hand,
    {{ dbt.cast('value_on_hand', type_amount()) }}                      as value_on_hand,
    {{ dbt.cast('last_issue_date', 'date') }}                           as last_issue_date,
    {{ dbt.cast('first_movement_date', 'date') }}                       as first_movement_date,
    {{ dbt.cast(reports_days_between('idle_since', 'as_of_date'), dbt.type_int()) }} as days_without_issue
from idle
