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


def test_the_engine_is_one_setting_and_spark_gets_its_folders(monkeypatch, tmp_path):
    """MIRA_ENGINE picks dbt's target for everything (default duckdb); a wrong value is refused by
    name; on Spark, dbt is handed the lake, Spark's folders under the home and the project version."""
    from pipelines.settings import get_settings
    from pipelines.transform.project import dbt_env

    monkeypatch.setenv("MIRA_HOME", str(tmp_path))
    monkeypatch.setenv("MIRA_MASTER_KEY", "m" * 40)
    monkeypatch.delenv("MIRA_ENGINE", raising=False)
    monkeypatch.delenv("MIRA_LAKE", raising=False)
    assert get_settings().engine == "duckdb"
    assert dbt_env(tmp_path)["MIRA_ENGINE"] == "duckdb" and "MIRA_LAKE" not in dbt_env(tmp_path)
    monkeypatch.setenv("MIRA_ENGINE", "sparkk")
    with pytest.raises(ValueError, match="MIRA_ENGINE must be one of duckdb, spark"):
        get_settings()
    monkeypatch.setenv("MIRA_ENGINE", "Spark")
    env = dbt_env(tmp_path / "other")
    assert env["MIRA_ENGINE"] == "spark"
    assert env["MIRA_LAKE"] == str((tmp_path / "other" / "lake").resolve())   # the lake follows the home
    assert env["MIRA_SPARK_WAREHOUSE"] == str((tmp_path / "other" / "spark" / "warehouse").resolve())
    assert len(env["MIRA_DBT_PROJECT_VERSION"]) == 64
    monkeypatch.setenv("MIRA_LAKE", "abfss://lake@account.dfs.core.windows.net/mira")
    assert dbt_env(tmp_path)["MIRA_LAKE"] == "abfss://lake@account.dfs.core.windows.net/mira"
    assert not get_settings().lake_is_local


def test_environment_overlay_puts_every_variable_back(monkeypatch):
    import os

    from pipelines.settings import environment

    monkeypatch.setenv("MIRA_OVERLAY_SET", "before")
    monkeypatch.delenv("MIRA_OVERLAY_UNSET", raising=False)
    with environment({"MIRA_OVERLAY_SET": "during", "MIRA_OVERLAY_UNSET": "during"}):
        assert os.environ["MIRA_OVERLAY_SET"] == os.environ["MIRA_OVERLAY_UNSET"] == "during"
    assert os.environ["MIRA_OVERLAY_SET"] == "before"
    assert "MIRA_OVERLAY_UNSET" not in os.environ
