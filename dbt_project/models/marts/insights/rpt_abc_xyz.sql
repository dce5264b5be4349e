{#
  ABC by consumption value, XYZ by how steady weekly demand is, per tenant and material.

  Consumption is fct_material_usage_daily's (issue + scrap - return), over the last N days
  up to the tenant's as-of date (var mira_use_window_days).

  ABC: materials ranked by consumption value, highest first (ties by material_id). A material
  is A while the materials ranked above it make up less than 80% of the tenant's value, B while
  they make up less than 95%, C otherwise. So the material that crosses 80% is still A (the top
  material is always A, even when it alone is 90%), and a material with no positive value is C.
  A value that is unknown (no cost) counts as zero. Thresholds: vars mira_abc_a_share (0.8),
  mira_abc_b_share (0.95).

  XYZ: coefficient of variation (population standard deviation / mean) of weekly consumed
  quantity, weeks being 7-day blocks counted back from the as-of date, weeks without demand
  counted as zero. Only whole weeks: floor(N / 7) of them, fewer when the tenant's history is
  shorter (weeks before its first movement are not "no demand"). X when CV < 0.5, Y when < 1.0,
  Z otherwise (vars mira_xyz_x_cv, mira_xyz_y_cv), and Z when there was no demand at all:
  nothing regular to plan on. Under two whole weeks of history there is no variation to
  measure: XYZ is null.

  The variance comes from sums (sum of squares / weeks - mean^2), so the zero weeks need no
  calendar rows.
#}
{{ config(**tenant_incremental()) }}

{%- set window_days = reports_use_window_days() %}
{%- set max_weeks = (window_days // 7) %}
{%- set a_share = var('mira_abc_a_share', 0.8) %}
{%- set b_share = var('mira_abc_b_share', 0.95) %}
{%- set x_cv = var('mira_xyz_x_cv', 0.5) %}
{%- set y_cv = var('mira_xyz_y_cv', 1.0) %}

with as_of as (
    select
        tenant_id,
        as_of_date,
        {{ reports_clamp(
            'floor((' ~ reports_days_between('first_movement_date', 'as_of_date') ~ ' + 1) / 7)',
            high=max_weeks) }} as weeks_observed
    from ({{ reports_as_of_dates() }}) as dates
),

materials as (
    select tenant_id, material_id
    from {{ tenant_ref('dim_materials') }}
),

recent_usage as (
    select
        u.tenant_id,
        u.material_id,
        u.consumed_quantity,
        u.consumed_value,
        as_of.weeks_observed,
        floor({{ reports_days_between('u.usage_date', 'as_of.as_of_date') }} / 7) as weeks_back
    from {{ tenant_ref('fct_material_usage_daily') }} as u
    inner join as_of on as_of.tenant_id = u.tenant_id
    where {{ reports_in_window('u.usage_date', 'as_of.as_of_date', window_days) }}
),

consumption as (
    select
        tenant_id,
        material_id,
        sum(consumed_quantity) as consumed_quantity,
        coalesce(sum(consumed_value), 0) as consumed_value
    from recent_usage
    group by tenant_id, material_id
),

weekly as (
    select tenant_id, material_id, weeks_back, sum(consumed_quantity) as week_quantity
    from recent_usage
    where weeks_back < weeks_observed
    group by tenant_id, material_id, weeks_back
),

weekly_sums as (
    select
        tenant_id,
        material_id,
        sum(week_quantity) as demand_sum,
        sum({{ exact_product('week_quantity', 'week_quantity') }}) as demand_sum_of_squares
    from weekly
    group by tenant_id, material_id
),

per_material as (
    select
        mat.tenant_id,
        mat.material_id,
        as_of.as_of_date,
        as_of.weeks_observed,
        coalesce(c.consumed_quantity, 0) as consumed_quantity,
        coalesce(c.consumed_value, 0) as consumed_value,
        case when c.consumed_value > 0 then c.consumed_value else 0 end as ranked_value,
        coalesce(ws.demand_sum, 0) as demand_sum,
        coalesce(ws.demand_sum_of_squares, 0) as demand_sum_of_squares
    from materials as mat
    inner join as_of on as_of.tenant_id = mat.tenant_id
    left join consumption as c
        on  c.tenant_id = mat.tenant_id
        and c.material_id = mat.material_id
    left join weekly_sums as ws
        on  ws.tenant_id = mat.tenant_id
        and ws.material_id = mat.material_id
),

ranked as (
    select
        per_material.*,
        row_number() over (
            partition by tenant_id order by ranked_value desc, material_id) as value_rank,
        sum(ranked_value) over (
            partition by tenant_id order by ranked_value desc, material_id
            rows between unbounded preceding and current row) as cumulative_value,
        sum(ranked_value) over (partition by tenant_id) as tenant_value
    from per_material
),

stats as (
    select
        ranked.*,
        case when tenant_value > 0
            then {{ mira_divide(dbt.cast('cumulative_value', type_amount()), 'tenant_value') }} end as cumulative_share,
        case when tenant_value > 0
            then {{ mira_divide(dbt.cast('cumulative_value - ranked_value', type_amount()), 'tenant_value') }} end as share_above,
        case when weeks_observed >= 2
            then {{ mira_divide(dbt.cast('demand_sum', type_amount()), 'weeks_observed') }} end as weekly_mean,
        case when weeks_observed >= 2
            then {{ mira_divide(dbt.cast('demand_sum_of_squares', type_amount()), 'weeks_observed') }} end as weekly_mean_of_squares
    from ranked
),

classed as (
    select
        stats.*,
        case
            when ranked_value > 0 and share_above < {{ a_share }} then 'A'
            when ranked_value > 0 and share_above < {{ b_share }} then 'B'
            else 'C'
        end as abc_class,
        sqrt({{ reports_clamp('weekly_mean_of_squares - weekly_mean * weekly_mean', low=0) }}) as weekly_stddev
    from stats
),

cv as (
    select
        classed.*,
        case when weekly_mean > 0 then {{ mira_divide('weekly_stddev', 'weekly_mean') }} end as demand_cv
    from classed
),

xyz as (
    select
        cv.*,
        case
            when weeks_observed < 2 then null
            when demand_cv is null then 'Z'
            when demand_cv < {{ x_cv }} then 'X'
            when demand_cv < {{ y_cv }} then 'Y'
            else 'Z'
        end as xyz_class
    from cv
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}          as tenant_id,
    {{ dbt.cast('material_id', dbt.type_string()) }}        as material_id,
    {{ dbt.cast('as_of_date', 'date') }}                    as as_of_date,
    {{ dbt.cast('consumed_quantity', type_amount()) }}      as consumed_quantity,
    {{ dbt.cast('consumed_value', type_amount()) }}         as consumed_value,
    {{ dbt.cast('value_rank', dbt.type_int()) }}            as value_rank,
    {{ dbt.cast('cumulative_share', type_amount()) }}       as cumulative_value_share,
    {{ dbt.cast('abc_class', dbt.type_string()) }}          as abc_class,
    {{ dbt.cast('weeks_observed', dbt.type_int()) }}        as weeks_observed,
    {{ dbt.cast('weekly_mean', type_amount()) }}            as weekly_demand_mean,
    {{ dbt.cast('weekly_stddev', type_amount()) }}          as weekly_demand_stddev,
    {{ dbt.cast('demand_cv', type_amount()) }}              as demand_cv,
    {{ dbt.cast('xyz_class', dbt.type_string()) }}          as xyz_class,
    {{ dbt.cast(
        'case when xyz_class is not null then ' ~ dbt.concat(['abc_class', 'xyz_class']) ~ ' end',
        dbt.type_string()) }}                               as abc_xyz_class
from xyz
