"""The dbt project: DbtProject and dbt build (project.py), the dbt-duckdb plugin, the docs site,
the dbt assets (assets.py).
"""
