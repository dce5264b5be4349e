"""The Dagster instance under MIRA_HOME, so `mira run`, the UI and the daemon share run history."""
from __future__ import annotations

import os

from pipelines.settings import Settings, get_settings

DAGSTER_YAML = """\
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


def prepare_dagster_home(settings: Settings | None = None) -> str:
    """Create DAGSTER_HOME (with a one-writer pool limit) and export it with absolute MIRA_HOME."""
    settings = settings or get_settings()
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["MIRA_HOME"] = str(settings.home)
    return str(home)
