"""Azurite, the Azure Storage emulator (npm package `azurite`), as a real Blob Storage API for the
tests and the landing benchmark.

Each server gets a free port on 127.0.0.1, its own temporary folder and its own storage account
with a random key (AZURITE_ACCOUNTS), so no well-known emulator key is in use and a test can
check that the key it set never shows up in an output. Telemetry is off; `--loose` and
`--skipApiVersionCheck` let a newer azure-storage-blob talk to the emulator.
"""
from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

ACCOUNT = "miralanding"


@dataclass(frozen=True)
class Azurite:
    port: int
    account: str
    key: str = field(repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.account}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
                f"BlobEndpoint={self.endpoint};")

    def container(self, name: str):
        """A ContainerClient for `name`, created when missing."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(self.connection_string).get_container_client(name)
        try:
            client.create_container()
        except ResourceExistsError:
            pass
        return client


def executable() -> str:
    found = shutil.which("azurite-blob")
    if not found:
        raise RuntimeError("azurite-blob is not installed: `npm install -g azurite` (bash .ci/run does it)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@contextmanager
def azurite(timeout: float = 30.0) -> Iterator[Azurite]:
    """A running azurite-blob, stopped (and its folder removed) on exit."""
    key = base64.b64encode(secrets.token_bytes(64)).decode("ascii")
    server = Azurite(_free_port(), ACCOUNT, key)
    folder = tempfile.mkdtemp(prefix="azurite-")
    env = {**os.environ, "AZURITE_ACCOUNTS": f"{ACCOUNT}:{key}"}
    proc = subprocess.Popen(
        [executable(), "--blobHost", "127.0.0.1", "--blobPort", str(server.port), "--location", folder,
         "--silent", "--loose", "--skipApiVersionCheck", "--disableTelemetry"],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not _answers(server.port):
            if proc.poll() is not None:
                raise RuntimeError(f"azurite-blob exited at start: {proc.stderr.read().decode(errors='replace')[-500:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"azurite-blob did not answer on port {server.port} within {timeout:.0f} s")
            time.sleep(0.1)
        yield server
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        proc.stderr.close()
        shutil.rmtree(folder, ignore_errors=True)


def mirror(folder: Path, container, prefix: str, uploaded: dict[str, tuple[int, int]]) -> None:
    """Make the blobs under `prefix` what the folder holds: new and changed files uploaded (as block
    blobs, committed whole), files gone deleted; hidden names too, as an uploader would leave them.
    `uploaded`: rel -> (size, mtime) of what this mirror put there, kept between calls."""
    present: dict[str, tuple[int, int]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()):
        st = path.stat()
        present[path.relative_to(folder).as_posix()] = (st.st_size, st.st_mtime_ns)
    for rel in sorted(set(uploaded) - set(present)):
        container.delete_blob(prefix + rel)
        del uploaded[rel]
    for rel, stamp in present.items():
        if uploaded.get(rel) != stamp:
            container.upload_blob(prefix + rel, (folder / rel).read_bytes(), overwrite=True)
            uploaded[rel] = stamp
