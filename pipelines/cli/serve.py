"""`mira serve`: the Dagster webserver, the Dagster daemon and Streamlit, stopped together."""
from __future__ import annotations

import shutil
import signal
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import typer

from pipelines.cli.console import out
from pipelines.runs import prepare_dagster_home
from pipelines.settings import REPO_ROOT


def serve_command(
    dagster_port: int = typer.Option(3000, help="Port of the Dagster UI."),
    streamlit_port: int = typer.Option(8501, help="Port of the dashboards."),
) -> None:
    """Dagster webserver + daemon and the Streamlit app; Ctrl-C stops them all."""
    serve(dagster_port, streamlit_port, echo=out.print)


def _bin(name: str) -> str:
    """Console scripts of this venv first, so `mira serve` works without an activated venv."""
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else (shutil.which(name) or name)


def streamlit_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """The dashboards' server as customers get it: no menu (its developer items, deploy, rerun,
    clear cache, and its untranslated viewer items), no exception details or external help links
    in the browser (the full error goes to the server's log only), and no table toolbar export:
    Streamlit's own "Download as CSV" bypassed the app's downloads (their formula defusing, and
    the names a tenant shows on screen only). No file watcher: nothing edits the app while it
    serves customers."""
    return [_bin("streamlit"), "run", str(REPO_ROOT / "dashboards" / "app.py"), "--server.address", address,
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "minimal", "--client.showErrorDetails", "none",
            "--client.showErrorLinks", "false", "--client.disableDataExport", "true",
            "--server.fileWatcherType", "none", "--logger.level", "warning"]


STOP_HINT = "Ctrl-C stops the Dagster UI, its daemon and the dashboards."
# Quiet by default: the daemon logged six INFO lines per sensor tick (every 30 s) and each
# freshness check it skipped, and the code servers their heartbeats; warnings and errors still
# show, and everything is in the Dagster UI (runs, sensor ticks).
_QUIET_WEBSERVER = ["--dagster-log-level", "warning", "--code-server-log-level", "error"]
_QUIET_DAEMON = ["--log-level", "warning", "--code-server-log-level", "error"]


def commands(dagster_port: int, streamlit_port: int) -> list[list[str]]:
    workspace = str(REPO_ROOT / "workspace.yaml")
    return [
        [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(dagster_port), "-w", workspace, *_QUIET_WEBSERVER],
        [_bin("dagster-daemon"), "run", "-w", workspace, *_QUIET_DAEMON],
        streamlit_command(streamlit_port),
    ]


# A Dagster console record at INFO or DEBUG ("<time> - dagster... - INFO - ..."), colours or not.
_CHATTER = re.compile(r" - (?:\x1b\[[0-9;]*m)?(?:INFO|DEBUG)(?:\x1b\[[0-9;]*m)? - ")


def _forward(stream) -> None:
    """Pass a child's output on, without Dagster's INFO and DEBUG records: the built-in
    freshness sensor logs every check it skips at INFO to the console (a level no option
    lowers); the same records are in the Dagster UI, with each sensor tick."""
    for line in stream:
        if not _CHATTER.search(line):
            sys.stdout.write(line)
            sys.stdout.flush()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(dagster_port: int, streamlit_port: int, echo: Callable[[str], None] = print) -> None:
    prepare_dagster_home()
    # Ctrl-C, and also `kill` (SIGTERM) or SIGINT where a shell started us with it ignored:
    # every way of stopping stops the three children too.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    procs = [subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              errors="replace", bufsize=1) for cmd in commands(dagster_port, streamlit_port)]
    readers = [threading.Thread(target=_forward, args=(proc.stdout,), daemon=True) for proc in procs]
    for reader in readers:
        reader.start()
    echo(f"Dagster UI:  http://127.0.0.1:{dagster_port}")
    echo(f"Dashboards:  http://127.0.0.1:{streamlit_port}")
    echo(STOP_HINT)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        dead = [c[0] for c, p in zip(commands(dagster_port, streamlit_port), procs) if p.poll() is not None]
        echo(f"stopped: {', '.join(Path(d).name for d in dead)} exited; stopping the others")
    except KeyboardInterrupt:
        echo("stopping")
    finally:
        descendants = _descendants(procs)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.time() + 15
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
        # Keep reading until the code servers the children started have closed the pipes too:
        # a process whose output pipe has no reader any more can hang on its last log line.
        deadline = time.time() + 15
        for reader in readers:
            reader.join(timeout=max(0.1, deadline - time.time()))
        _stop_leftovers(descendants)


def _descendants(procs: list[subprocess.Popen]) -> list:
    """The processes the children started (Dagster's code servers), taken before they stop: a
    code server shuts itself down when its parent's heartbeats stop, which on a busy machine
    took longer than anyone waits after Ctrl-C."""
    import psutil

    found = []
    for p in procs:
        try:
            found += psutil.Process(p.pid).children(recursive=True)
        except psutil.Error:
            pass
    return found


def _stop_leftovers(descendants: list) -> None:
    import psutil

    alive = [d for d in descendants if d.is_running()]
    for d in alive:
        try:
            d.terminate()
        except psutil.Error:
            pass
    _, still = psutil.wait_procs(alive, timeout=5)
    for d in still:
        try:
            d.kill()
        except psutil.Error:
            pass
