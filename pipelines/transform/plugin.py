"""dbt-duckdb plugin: lets dbt write the encrypted warehouse offline.

dbt-duckdb runs `configure_connection` before it attaches the databases of the profile. Writing
an encrypted file needs httpfs's crypto module; listing httpfs under `extensions:` would make
dbt-duckdb run INSTALL, which downloads. Here the extension comes from the duckdb-ext-httpfs
package's folder instead, as in pipelines.warehouse.
"""
from duckdb import DuckDBPyConnection
from dbt.adapters.duckdb.plugins import BasePlugin

from pipelines.settings import get_settings
from pipelines.warehouse import extension_directory, literal


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        conn.execute(f"SET extension_directory = {literal(extension_directory())}")
        conn.execute("SET autoinstall_known_extensions = false")
        conn.execute("LOAD httpfs")
        # Spill space under MIRA_HOME, set once per connection (not in the profile's `settings`,
        # which dbt-duckdb re-applies per cursor; DuckDB refuses that after the first spill).
        tmp = get_settings().home / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        conn.execute(f"SET temp_directory = {literal(tmp)}")
