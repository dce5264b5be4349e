"""A real Streamlit server and Debian's chromium for the browser tests.

The server is started here, on a free loopback port, from a copy of the shared `e2e` home (so the
account added here changes nothing for other tests), and stopped after the module: SIGTERM to its
process group, SIGKILL after a grace period, so no server outlives the tests. Playwright drives
Debian's chromium (`executable_path`), never a downloaded browser: `playwright install` cannot
reach its download host here, and CI installs the `chromium` package (.ci/run). A missing
chromium fails the tests with what to install; it does not skip them.

Screenshots, the downloaded files, the browser console and the server's log go to the artifacts
folder: $MIRA_TEST_ARTIFACTS/e2e when set, else tests/e2e/artifacts (git-ignored); its path is
printed at the end of the run.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from pipelines.cli.serve import streamlit_command
from tests.conftest import free_port, published_copy

REPO = Path(__file__).resolve().parents[2]
MANAGER_EMAIL = "browser.manager@example.com"
MANAGER_PASSWORD = "browser-test-password"
SERVER_START_TIMEOUT_S = 90
SERVER_STOP_GRACE_S = 10
# Verified on this kind of machine (DESIGN.md): without the background-networking flags chromium
# keeps trying to reach Google's hosts, which the closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

_artifact_dirs: list[Path] = []


def artifacts_root() -> Path:
    base = os.environ.get("MIRA_TEST_ARTIFACTS")
    return Path(base) / "e2e" if base else REPO / "tests" / "e2e" / "artifacts"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """This run's folder of artifacts (one per run, named by time, so earlier runs stay)."""
    folder = artifacts_root() / datetime.now().strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    _artifact_dirs.append(folder)
    print(f"\nbrowser test artifacts: {folder}")
    return folder


def pytest_terminal_summary(terminalreporter):
    for folder in _artifact_dirs:
        terminalreporter.write_line(f"browser test artifacts (screenshots, downloads, server log): {folder}")


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail("Debian's chromium is not installed, and the browser test needs it: "
                    "`apt-get install -y --no-install-recommends chromium` (bash .ci/run does it as root).",
                    pytrace=False)
    return path


@dataclass(frozen=True)
class BrowserHome:
    home: Path
    tenant: str          # the manager's tenant
    others: list[str]    # every other published tenant
    email: str
    password: str


@pytest.fixture(scope="module")
def browser_home(transform, e2e, tmp_path_factory) -> BrowserHome:
    """A copy of the built e2e home with every serving file published and one manager account.
    (`transform`: the dbt manifest the e2e build loads is prepared first, as `make test` does.)"""
    from pipelines.accounts import users as accounts

    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("browser") / "mira"
    try:
        tenants = published_copy(e2e[0], home, mp)
        accounts.add_user(MANAGER_EMAIL, "manager", tenants[0], password=MANAGER_PASSWORD)
        yield BrowserHome(home, tenants[0], tenants[1:], MANAGER_EMAIL, MANAGER_PASSWORD)
    finally:
        mp.undo()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except OSError:
        return False


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's own process group, SIGKILL if it is still there after the grace."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=SERVER_STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=SERVER_STOP_GRACE_S)


@pytest.fixture(scope="module")
def streamlit_url(browser_home, artifacts) -> str:
    """`streamlit run dashboards/app.py` on a free port of 127.0.0.1, reading browser_home."""
    port = free_port()
    log_path = artifacts / "streamlit-server.log"
    # The server as `mira serve` starts it (its client settings are part of what is tested).
    cmd = [*streamlit_command(port), "--server.runOnSave", "false"]
    env = {**os.environ, "MIRA_HOME": str(browser_home.home), "MIRA_LANDING": str(browser_home.home / "landing"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    assert env.get("MIRA_MASTER_KEY"), "point_at sets the test master key"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode} before answering:\n{_tail(log_path)}",
                            pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer on {url} within {SERVER_START_TIMEOUT_S} s:\n"
                            f"{_tail(log_path)}", pytrace=False)
            time.sleep(0.3)
        yield url
    finally:
        stop(proc)
    assert proc.poll() is not None, "the streamlit server is still running after SIGKILL"


@pytest.fixture(scope="module")
def browser(artifacts):
    """Headless Debian chromium under Playwright (one per module)."""
    path = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the Python package `playwright` is missing: it is in the test extra "
                    "(pip install -c constraints.txt -e '.[test]')", pytrace=False)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
