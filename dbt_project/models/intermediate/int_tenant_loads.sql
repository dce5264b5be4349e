{#
  Per tenant, a fingerprint of everything loaded for it: rows across every raw table and the
  latest load time. The tenant-incremental models (macros/tenant_incremental.sql) compare it
  with the one they last built the tenant from. Reading only tenant_id and _loaded_at, it costs
  a scan of two compressed columns, whatever else changed.
#}
with loads as (
    {%- for entity in ['tenants', 'users', 'materials', 'locations', 'projects', 'movements'] %}
    select tenant_id, count(*) as row_count, max(_loaded_at) as loaded_at
    from {{ source('raw', entity) }}
    group by tenant_id
    {{ 'union all' if not loop.last }}
    {%- endfor %}
)

select
    {{ dbt.cast('tenant_id', dbt.type_string()) }}      as tenant_id,
    {{ dbt.cast('sum(row_count)', 'bigint') }}         as row_count,
    {{ dbt.cast('max(loaded_at)', type_timestamp_tz()) }} as loaded_at
from loads
where tenant_id is not null
group by tenant_id
