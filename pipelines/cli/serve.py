"""`mira serve`: the Dagster webserver, the Dagster daemon and Streamlit, stopped together."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
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
    """Dagster webserver + daemon and the Streamlit app; Ctrl-C stops all three."""
    serve(dagster_port, streamlit_port, echo=out.print)


def _bin(name: str) -> str:
    """Console scripts of this venv first, so `mira serve` works without an activated venv."""
    local = Path(sys.executable).with_name(name)
    return str(local) if local.exists() else (shutil.which(name) or name)


def streamlit_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """The dashboards' server as customers get it: no developer menu (deploy, rerun, clear cache)
    and no exception details or external help links in the browser; the full error goes to the
    server's log only."""
    return [_bin("streamlit"), "run", str(REPO_ROOT / "dashboards" / "app.py"), "--server.address", address,
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--client.toolbarMode", "viewer", "--client.showErrorDetails", "none",
            "--client.showErrorLinks", "false"]


def commands(dagster_port: int, streamlit_port: int) -> list[list[str]]:
    workspace = str(REPO_ROOT / "workspace.yaml")
    return [
        [_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(dagster_port), "-w", workspace],
        [_bin("dagster-daemon"), "run", "-w", workspace],
        streamlit_command(streamlit_port),
    ]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def serve(dagster_port: int, streamlit_port: int, echo: Callable[[str], None] = print) -> None:
    prepare_dagster_home()
    # Ctrl-C, and also `kill` (SIGTERM) or SIGINT where a shell started us with it ignored:
    # every way of stopping stops the three children too.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    procs = [subprocess.Popen(cmd, cwd=REPO_ROOT) for cmd in commands(dagster_port, streamlit_port)]
    echo(f"Dagster UI:  http://127.0.0.1:{dagster_port}")
    echo(f"Dashboards:  http://127.0.0.1:{streamlit_port}")
    echo("Ctrl-C stops all three.")
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        dead = [c[0] for c, p in zip(commands(dagster_port, streamlit_port), procs) if p.poll() is not None]
        echo(f"stopped: {', '.join(Path(d).name for d in dead)} exited; stopping the others")
    except KeyboardInterrupt:
        echo("stopping")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.time() + 15
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                p.kill()
