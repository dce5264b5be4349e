"""The environment dbt runs in: the variables profiles.yml reads, from settings.

Kept apart from pipelines.transform (which needs the dbt manifest at import) so scripts and
tests can start dbt without loading the Dagster definitions.
"""
from dataclasses import replace
from pathlib import Path

from pipelines.privacy import keys
from pipelines.settings import get_settings

# The DBT_ENV_SECRET_ prefix makes dbt scrub the value from its logs and output.
WAREHOUSE_KEY_VAR = "DBT_ENV_SECRET_MIRA_WAREHOUSE_KEY"


def dbt_env(home: Path) -> dict[str, str]:
    """MIRA_HOME made absolute (dbt runs in the project folder), the memory limit, and the
    warehouse key derived for that home."""
    home = Path(home).resolve()
    settings = replace(get_settings(), home=home)
    return {
        "MIRA_HOME": str(home),
        "MIRA_MEMORY_LIMIT": settings.memory_limit,
        WAREHOUSE_KEY_VAR: keys.file_key("warehouse", settings=settings),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
