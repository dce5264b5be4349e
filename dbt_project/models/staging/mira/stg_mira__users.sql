-- Pseudonyms only: the warehouse never holds a user id, name or email.
select
    user_pseudonym,
    tenant_id,
    role                as user_role,
    created_at,
    last_login_date,
    _loaded_at          as loaded_at
from {{ source('raw', 'users') }}
