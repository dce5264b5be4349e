"""`mira serve` brings up the Dagster UI and Streamlit, and Ctrl-C stops all of it."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from pipelines.cli.serve import STOP_HINT
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]


def ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_starts_both_and_ctrl_c_stops_everything(mira_home, stop):
    dport, sport = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "serve", "--dagster-port", str(dport),
                             "--streamlit-port", str(sport)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        deadline = time.time() + 120
        up = False
        while time.time() < deadline and proc.poll() is None:
            if ok(f"http://127.0.0.1:{dport}/server_info") and ok(f"http://127.0.0.1:{sport}/_stcore/health"):
                up = True
                break
            time.sleep(1)
        assert up, "Dagster UI and Streamlit did not both answer within 120 s"
        time.sleep(8)      # the daemon's first sensor ticks (they logged six INFO lines each)
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 3
        proc.send_signal(stop)
        output, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, output
        assert f"http://127.0.0.1:{dport}" in output and f"http://127.0.0.1:{sport}" in output
        # quiet: no sensor tick or code-server chatter, and the same words as the README
        plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
        noisy = [ln for ln in plain.splitlines() if " - INFO - " in ln or " - DEBUG - " in ln
                 or "heartbeat" in ln.lower()]
        assert not noisy, noisy[:5]
        assert STOP_HINT in output
        assert STOP_HINT in (REPO / "README.md").read_text()
        # the code servers the Dagster processes started are gone too, within seconds
        deadline = time.time() + 20
        while time.time() < deadline and [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]:
            time.sleep(0.5)
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    finally:
        if proc.poll() is None:
            proc.kill()
