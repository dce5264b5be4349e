"""Dashboard accounts and tenant settings: the one owner of accounts.db (store, users, tenants)."""
