"""dbt's warehouse comes from the pipeline's variables, or dbt refuses to start."""
import pytest

from pipelines.settings import DBT_WAREHOUSE_KEY_VAR, dbt_warehouse


def test_dbt_without_the_pipelines_variables_refuses(monkeypatch, tmp_path):
    monkeypatch.delenv("MIRA_HOME", raising=False)
    monkeypatch.delenv(DBT_WAREHOUSE_KEY_VAR, raising=False)
    with pytest.raises(RuntimeError, match="MIRA_HOME"):
        dbt_warehouse()
    monkeypatch.setenv("MIRA_HOME", str(tmp_path))
    with pytest.raises(RuntimeError, match=DBT_WAREHOUSE_KEY_VAR):
        dbt_warehouse()
    monkeypatch.setenv(DBT_WAREHOUSE_KEY_VAR, "k" * 64)
    assert dbt_warehouse() == (tmp_path.resolve() / "warehouse.duckdb", "k" * 64)
