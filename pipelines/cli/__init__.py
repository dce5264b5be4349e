"""The `mira` command line: one typer app (app.py), one console (console.py: output, the one error
policy), a module per command group. Nothing outside this package imports it.
"""
