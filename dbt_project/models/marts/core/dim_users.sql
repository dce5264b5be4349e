-- People as the warehouse knows them: a per-tenant pseudonym, a role and day-level dates.
-- No user id, name or email exists here (they stay in the vault). Pseudonyms seen in
-- movements but not (yet) among the users get a placeholder row (is_known = false).
with known as (
    select * from {{ ref('stg_mira__users') }}
),

referenced as (
    select tenant_id, user_pseudonym
    from {{ ref('int_movement_references') }}
    where reference_kind = 'user'
),

unioned as (
    select
        tenant_id, user_pseudonym, user_role,
        {{ local_date('created_at') }} as created_date,
        last_login_date,
        true as is_known
    from known

    union all

    select referenced.tenant_id, referenced.user_pseudonym, null, null, null, false
    from referenced
    where not exists (
        select 1 from known
        where known.tenant_id = referenced.tenant_id and known.user_pseudonym = referenced.user_pseudonym
    )
)

select
    {{ dbt.cast('user_pseudonym', dbt.type_string()) }} as user_pseudonym,
    {{ dbt.cast('tenant_id', dbt.type_string()) }}      as tenant_id,
    {{ dbt.cast('user_role', dbt.type_string()) }}      as role,
    {{ dbt.cast('created_date', 'date') }}              as created_date,
    {{ dbt.cast('last_login_date', 'date') }}           as last_login_date,
    {{ dbt.cast('is_known', dbt.type_boolean()) }}      as is_known
from unioned
