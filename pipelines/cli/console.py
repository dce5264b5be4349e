"""What every `mira` command shares: the consoles, `--debug`, progress bars, and the one error policy.

The error policy, for every command and sub-command alike:
- a problem the user can act on (a `UserError`, or one of the platform's exceptions listed in
  USER_FACING, whose message is written for the user) is ONE line `error: <reason>` on stderr,
  exit code 1;
- click's usage errors (unknown option, invalid value) keep click's own message and exit code 2;
- Ctrl-C (or a refused confirmation) exits 130;
- anything else is a bug: one line with its type and a hint, exit code 1;
- with `mira --debug ...`, the traceback instead of the one line.

Commands raise `UserError` (or call `fail()`); none prints errors or exits by itself. User errors
are turned into the line and the exit code by `Group.invoke` (the click group of `mira` and of
every sub-app, so `typer.testing.CliRunner` on any of them sees the same line and code); usage
errors, Ctrl-C and bugs by `main()` in app.py, through `exit_code()` below.

Light on purpose: imported by every `mira` invocation, `mira --help` included.
"""
from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

out = Console()
err = Console(stderr=True)

EXIT_ERROR = 1          # user errors and bugs; click's usage errors keep click's code (2)
EXIT_INTERRUPTED = 130  # Ctrl-C, or a confirmation answered no

_state = {"debug": False}

# The platform's exceptions whose message is written for the user: shown as they are, as a user
# error. Listed by the module that exports them, so that checking needs no import: an exception
# of a class whose module was never imported cannot have been raised.
USER_FACING: tuple[tuple[str, str], ...] = (
    ("builtins", "FileNotFoundError"),
    ("pipelines.warehouse", "WarehouseMissing"),
    ("pipelines.warehouse", "CannotOpen"),
    ("pipelines.keys", "KeyProblem"),
    ("pipelines.serving.sql", "QueryRefused"),
    ("pipelines.serving.export", "ExportError"),
    ("pipelines.transform.docs", "DocsError"),
    ("pipelines.accounts.users", "AccountError"),
    ("pipelines.accounts.store", "AccountsUnavailable"),
    ("pipelines.privacy.rights", "RequestError"),
    ("pipelines.privacy.rights", "RequestFailed"),
    ("pipelines.privacy.rotate", "RotationError"),
    ("pipelines.privacy.backup", "BackupError"),
    ("pipelines.ingest.retired", "RetiredListProblem"),
    ("pipelines.ingest.blobs", "LandingUnavailable"),
    ("pipelines.recovery", "BuildInProgress"),
    ("pipelines.recovery", "HomeNotWritable"),
)


class UserError(Exception):
    """A problem the user can fix; printed as one line `error: <reason>`, exit code 1."""


def fail(message: str) -> NoReturn:
    raise UserError(message)


def set_debug(on: bool) -> None:
    _state["debug"] = bool(on)


def debug() -> bool:
    """`mira --debug`: tracebacks instead of one-line errors."""
    return _state["debug"]


def progress() -> Progress:
    """Progress bars on stderr, so that stdout stays the command's output."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, transient=False)


def plain(text: str, console: Console | None = None) -> None:
    """Paths and names printed as they are: no markup, no colouring, no wrapping at 80 columns."""
    (console or out).print(text, markup=False, highlight=False, soft_wrap=True)


def _user_facing_types() -> tuple[type[BaseException], ...]:
    found = []
    for module, name in USER_FACING:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            found.append(cls)
    return tuple(found)


def is_user_error(exc: BaseException) -> bool:
    return isinstance(exc, (UserError, *_user_facing_types()))


def _is_usage_error(exc: BaseException) -> bool:
    # typer vendors its own click: a usage error is known by its shape (it shows itself, with a code)
    return hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int)


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def exit_code(exc: BaseException) -> int:
    """The policy above, for an exception that left a command: print what the user sees and return
    the exit code. The caller re-raises instead when `debug()` and `shows_traceback(exc)`."""
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    if _is_usage_error(exc):
        exc.show()
        return exc.exit_code
    if isinstance(exc, (KeyboardInterrupt, typer.Abort)):
        err.print("aborted")
        return EXIT_INTERRUPTED
    if is_user_error(exc):
        plain(f"error: {_one_line(str(exc))}", err)
        return EXIT_ERROR
    first = (str(exc).strip().splitlines() or [""])[0].strip()
    plain(f"error: {type(exc).__name__}: {first} (run with --debug for details)", err)
    return EXIT_ERROR


def shows_traceback(exc: BaseException) -> bool:
    """With --debug: every error but usage errors, Ctrl-C and an explicit exit."""
    return not (_is_usage_error(exc) or isinstance(exc, (KeyboardInterrupt, typer.Abort, typer.Exit)))


class Group(TyperGroup):
    """The click group of `mira` and of each sub-app: user errors end here, as one line and exit
    code 1, however the command was invoked (`mira`, `python -m pipelines.cli`, a CliRunner)."""

    def invoke(self, ctx):
        if ctx.parent is None:      # a new invocation: --debug (the root callback) sets it again
            set_debug(False)
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if debug() or not is_user_error(exc) or _is_usage_error(exc):
                raise
            sys.exit(exit_code(exc))
