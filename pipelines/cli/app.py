"""`mira`: the command line of the platform. Thin: parses, calls the modules, prints.

This module builds the app from the command groups (pipeline, analyst, serve, users, keys,
privacy, retention) and holds `main()`, the entry point. The error policy (console.py): an error
the user can act on is one line `error: <reason>` and exit code 1; usage errors exit 2, Ctrl-C
130; tracebacks only with --debug.
"""
from __future__ import annotations

import sys

import typer

from pipelines.cli import analyst, console, pipeline, retention
from pipelines.cli.keys import keys_app, scan_command
from pipelines.cli.privacy import privacy_app
from pipelines.cli.serve import serve_command
from pipelines.cli.users import users_app

app = typer.Typer(cls=console.Group, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="mira-analytics: ingest stock movements, build marts, serve dashboards.")


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors.")) -> None:
    console.set_debug(debug)


# `mira --help` lists the commands in this order, then the groups.
app.command()(pipeline.generate)
app.command()(pipeline.run)
app.command()(pipeline.status)
app.command()(analyst.sql)
app.command()(analyst.export)
app.command()(analyst.docs)
app.command("serve")(serve_command)
app.command()(pipeline.contracts)
app.command("backup")(retention.backup_command)
app.command("restore")(retention.restore_command)

app.add_typer(users_app, name="users")          # mira users add|list|disable|names|demo
app.add_typer(keys_app, name="keys")            # mira keys rotate
privacy_app.command("scan")(scan_command)       # mira privacy ...: rights, then housekeeping
privacy_app.command("retention")(retention.retention_command)
privacy_app.command("backup")(retention.backup_command)
privacy_app.command("backups")(retention.backups_command)
privacy_app.command("restore")(retention.restore_command)
app.add_typer(privacy_app, name="privacy")


def main() -> None:
    """The entry point (`mira`, `python -m pipelines.cli`). User errors have already been printed
    and turned into exit code 1 by console.Group; what is left is decided here, by console's policy."""
    try:
        code = app(standalone_mode=False)  # click returns the code of a typer.Exit here, not raises
    except Exception as exc:  # usage errors, Abort, bugs (SystemExit and KeyboardInterrupt pass)
        if console.debug() and console.shows_traceback(exc):
            raise
        sys.exit(console.exit_code(exc))
    except KeyboardInterrupt as exc:
        sys.exit(console.exit_code(exc))
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
