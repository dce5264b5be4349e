"""A progress hook the CLI installs and long-running steps report to.

`mira run` executes assets in its own process (in-process executor), so a module-level hook
lets the asset code drive the CLI's progress bar without knowing about it; in the Dagster UI
the same calls only log.
"""
from __future__ import annotations

from typing import Callable

_hook: Callable[[str, int, int], None] | None = None


def set_hook(hook: Callable[[str, int, int], None] | None) -> None:
    global _hook
    _hook = hook


def report(step: str, done: int, total: int) -> None:
    if _hook is not None:
        _hook(step, done, total)
