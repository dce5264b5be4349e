"""THE personal-data boundary: the only package that opens vault.duckdb (see store.py)."""
