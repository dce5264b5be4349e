{#
  Rows whose (tenant_id, column_name) has no (tenant_id, field) row in `to`. Every key in this
  warehouse is scoped by tenant, so dbt's built-in `relationships` (one column) would accept a
  row pointing at another tenant's material of the same id. Nulls are not checked.
#}
{% test relationships_within_tenant(model, column_name, to, field) %}
    select child.tenant_id, child.{{ column_name }}
    from (select * from {{ model }}) as child   -- model may be a filtered subquery with its own alias
    where child.{{ column_name }} is not null
      and not exists (
          select 1
          from {{ to }} as parent
          where parent.tenant_id = child.tenant_id
            and parent.{{ field }} = child.{{ column_name }}
      )
{% endtest %}
